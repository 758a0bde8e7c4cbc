using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Cli;

/// <summary>The one-line JSON summary of DESIGN §9 (snake_case keys; scripts rely on them).</summary>
internal static class JsonSummary
{
    private static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <param name="texture">extra fields (the texture scores of an exemplar job), appended after the fixed ones.</param>
    public static string Format(GenerateRequest request, JobStatistics statistics, double seamScore, IReadOnlyDictionary<string, double>? texture = null)
    {
        var spec = request.Spec;
        var summary = new Summary(
            Path.GetFullPath(request.Output), spec.Width, spec.Height, statistics.Tiles, statistics.Silos, spec.Steps,
            spec.Sync.ToString().ToLowerInvariant(), spec.Seed, Math.Round(statistics.Seconds, 3), Math.Round(statistics.DenoiseSeconds, 3),
            Math.Round(statistics.SyncSeconds, 3), statistics.BytesPerStep, Math.Round(seamScore, 4),
            spec.Scheduler.ToString().ToLowerInvariant(), spec.Tile, spec.Overlap, request.BitDepth, statistics.ForwardCallsPerStep,
            statistics.BytesPerStepBound, Math.Round(statistics.DecodeSeconds, 3), statistics.BandBytesPerStep, Math.Round(statistics.StepCallsPerStep, 3));
        if (texture is null) return JsonSerializer.Serialize(summary, Options);
        var json = JsonSerializer.SerializeToNode(summary, Options)!.AsObject();
        foreach (var (key, value) in texture) json[key] = value;
        return json.ToJsonString();
    }

    private sealed record Summary(
        string Output, int Width, int Height, int Tiles, int Silos, int Steps, string Sync, long Seed, double Seconds,
        double DenoiseSeconds, double SyncSeconds, long BytesPerStep, double SeamScore, string Scheduler, int Tile, int Overlap,
        int BitDepth, [property: JsonPropertyName("forward_calls_per_step")] double ForwardCallsPerStep, long BytesPerStepBound,
        double DecodeSeconds, long BandBytesPerStep, double StepCallsPerStep);
}
