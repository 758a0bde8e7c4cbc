using System.Globalization;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Client.Http;

/// <summary>A job spec as the HTTP API reads and writes it: the <c>odiff generate</c> options in snake_case
/// (<c>negative_prompt</c>, <c>tile</c>, <c>sync</c>, ...), the exemplar as a base64 PNG.</summary>
public sealed record JobSpecJson
{
    public string Prompt { get; init; } = "";
    public string NegativePrompt { get; init; } = "";
    public int Width { get; init; }
    public int Height { get; init; }
    public int Steps { get; init; }
    public long Seed { get; init; }
    public int Tile { get; init; }
    public int Overlap { get; init; }
    public string Sync { get; init; } = "";
    public string Scheduler { get; init; } = "";
    public double Eta { get; init; }
    public bool Karras { get; init; }
    public double Cfg { get; init; }
    public bool Tileable { get; init; }
    public string? Model { get; init; }

    /// <summary>The exemplar PNG (base64 in JSON); status objects leave it out and give only its name.</summary>
    public byte[]? ExemplarPng { get; init; }

    public string? ExemplarName { get; init; }

    /// <summary>The spec as JSON; <paramref name="withExemplarBytes"/> false leaves the exemplar's bytes out.</summary>
    public static JobSpecJson From(JobSpec spec, bool withExemplarBytes = true)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new()
        {
            Prompt = spec.Prompt,
            NegativePrompt = spec.NegativePrompt,
            Width = spec.Width,
            Height = spec.Height,
            Steps = spec.Steps,
            Seed = spec.Seed,
            Tile = spec.Tile,
            Overlap = spec.Overlap,
            Sync = Name(spec.Sync),
            Scheduler = Name(spec.Scheduler),
            Eta = spec.Eta,
            Karras = spec.Karras,
            Cfg = spec.Cfg,
            Tileable = spec.Tileable,
            Model = spec.Model,
            ExemplarPng = withExemplarBytes ? spec.Exemplar?.Png : null,
            ExemplarName = spec.Exemplar?.Name,
        };
    }

    /// <summary>Back to a <see cref="JobSpec"/> (an exemplar only when its bytes are present).</summary>
    public JobSpec ToSpec() => new()
    {
        Prompt = Prompt,
        NegativePrompt = NegativePrompt,
        Width = Width,
        Height = Height,
        Steps = Steps,
        Seed = Seed,
        Tile = Tile,
        Overlap = Overlap,
        Sync = Enum.TryParse<SyncMode>(Sync, ignoreCase: true, out var sync) ? sync : SyncMode.Attention,
        Scheduler = Enum.TryParse<SchedulerKind>(Scheduler, ignoreCase: true, out var scheduler) ? scheduler : SchedulerKind.Ddim,
        Eta = Eta,
        Karras = Karras,
        Cfg = Cfg,
        Tileable = Tileable,
        Model = Model,
        Exemplar = ExemplarPng is { } png ? new ExemplarImage(ExemplarName ?? "exemplar.png", png) : null,
    };

    /// <summary>The lower-case wire name of an enum value (<c>attention</c>, <c>ddim</c>).</summary>
    public static string Name<T>(T value)
        where T : struct, Enum => value.ToString().ToLower(CultureInfo.InvariantCulture);
}
