using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli;

/// <summary>One exemplar's score in <c>odiff bench texture</c>.</summary>
internal sealed record BenchTextureScore(string Name, int ExemplarSize, double Seconds, double Coherence, double Completeness,
    IReadOnlyList<BenchTextureScale> Scales);

internal sealed record BenchTextureScale(double Scale, double Coherence, double Completeness);

internal sealed record BenchTextureResult(int Canvas, int Steps, long Seed, string Sync, IReadOnlyList<BenchTextureScore> Exemplars);

/// <summary>
/// <c>odiff bench texture</c>: how well the built-in exemplar denoiser reproduces exemplars made in code (bricks,
/// hexagons, checkerboard, gradient, see <see cref="StructuredExemplars"/>) and the procedural textures: one job per
/// exemplar in this process, scored with <see cref="TextureScore"/> (coherence and completeness per scale). The same
/// options give the same images and scores on every run.
/// </summary>
internal static class BenchTexture
{
    private static readonly Option<string> Exemplars = new("--exemplars")
    {
        Description = $"Comma-separated exemplars: {string.Join(", ", StructuredExemplars.Names)} (made in code) or {Procedural}NAME for a procedural texture ({string.Join(", ", ProceduralTextures.Names)}).",
        DefaultValueFactory = _ => string.Join(",", StructuredExemplars.Names),
    };
    private static readonly Option<int> Size = CliOption.Int("--size", $"Side of the exemplars made in code (procedural textures are {JobComponents.ExemplarSize}², as in jobs).", 256);
    private static readonly Option<int> Canvas = CliOption.Int("--canvas", "Side of the square canvas generated from each exemplar.", 512);
    private static readonly Option<int> Steps = CliOption.Int("--steps", "Denoising steps.", new JobSpec().Steps);
    private static readonly Option<long> Seed = CliOption.Long("--seed", "The noise field's seed.", 1);
    private static readonly Option<SyncMode?> Sync = CliOption.Enum<SyncMode>("--sync", "Sync mode (default: halo, where the tiled image is the untiled one).");
    private static readonly Option<string?> Out = new("--out") { Description = "A folder to write each output and its exemplar to (NAME.png, NAME-exemplar.png)." };
    private static readonly Option<bool> Json = new("--json") { Description = "Print the results as one JSON object on the last line." };

    /// <summary>Prefix of a procedural texture's name (<c>procedural:bricks</c>; plain <c>bricks</c> is the one made in code).</summary>
    private const string Procedural = "procedural:";

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create()
    {
        var command = new Command("texture", "Texture fidelity of the exemplar denoiser: coherence and completeness per scale for exemplars made in code and procedural textures.");
        foreach (var option in new Option[] { Exemplars, Size, Canvas, Steps, Seed, Sync, Out, Json }) command.Options.Add(option);
        command.SetAction((parsed, cancellation) => RunAsync(parsed, cancellation));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellation)
    {
        var names = parsed.GetValue(Exemplars)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var (size, canvas, steps, seed) = (parsed.GetValue(Size), parsed.GetValue(Canvas), parsed.GetValue(Steps), parsed.GetValue(Seed));
        var sync = parsed.GetValue(Sync) ?? SyncMode.Halo;
        var output = parsed.GetValue(Out);
        var errors = new List<ValidationError>();
        foreach (var unknown in names.Where(n => !StructuredExemplars.Names.Contains(n) && !(n.StartsWith(Procedural, StringComparison.Ordinal) && ProceduralTextures.Names.Contains(n[Procedural.Length..]))))
            errors.Add(new("exemplars", $"unknown exemplar '{CliText.Printable(unknown)}'"));
        if (names.Length == 0) errors.Add(new("exemplars", "name at least one exemplar"));
        if (size < TextureScore.MinimumSide) errors.Add(new("size", $"must be at least {TextureScore.MinimumSide}, got {size}"));
        if (canvas < TextureScore.MinimumSide) errors.Add(new("canvas", $"must be at least {TextureScore.MinimumSide}, got {canvas}"));
        if (errors.Count > 0) throw new InvalidJobException(errors);
        if (output is not null) Directory.CreateDirectory(output);
        var json = parsed.GetValue(Json);
        var log = json ? Console.Error : Console.Out;

        var scores = new List<BenchTextureScore>();
        foreach (var name in names)
        {
            var spec = new JobSpec
            {
                Prompt = name.Replace(Procedural, "", StringComparison.Ordinal),
                Width = canvas,
                Height = canvas,
                Steps = steps,
                Seed = seed,
                Sync = sync,
                Tile = Math.Min(new JobSpec().Tile, canvas),
                Overlap = sync == SyncMode.Halo ? 0 : new JobSpec().Overlap,
            };
            JobSpecValidator.EnsureValid(spec);
            using var exemplar = StructuredExemplars.Names.Contains(name)
                ? StructuredExemplars.Make(name, size)
                : ExemplarCatalog.FromPrompt(spec.Prompt, JobComponents.ExemplarSize).Image;
            using var denoiser = new ExemplarDenoiser(exemplar, name: $"exemplar:{name}");
            var clock = Stopwatch.StartNew();
            using var result = await LocalGeneration.RunAsync(spec, denoiser, cancellationToken: cancellation);
            var seconds = clock.Elapsed.TotalSeconds;
            var score = TextureScore.Compute(result.Canvas, exemplar);
            if (output is not null)
            {
                PngWriter.Write(Path.Combine(output, $"{name.Replace(':', '-')}.png"), result.Canvas, PngBitDepth.Eight, $"odiff bench texture: {name}, {canvas}², seed {seed}");
                PngWriter.Write(Path.Combine(output, $"{name.Replace(':', '-')}-exemplar.png"), exemplar, PngBitDepth.Eight, $"exemplar {name}");
            }
            var entry = new BenchTextureScore(name, (int)exemplar.shape[1], Math.Round(seconds, 2), Math.Round(score.Coherence, 4), Math.Round(score.Completeness, 4),
                [.. score.Scales.Select(s => new BenchTextureScale(s.Scale, Math.Round(s.Coherence, 4), Math.Round(s.Completeness, 4)))]);
            scores.Add(entry);
            log.WriteLine(Describe(entry));
        }
        if (json) Console.Out.WriteLine(JsonSerializer.Serialize(new BenchTextureResult(canvas, steps, seed, CliOption.Spelling(sync), scores), JsonOptions));
        return ExitCodes.Success;
    }

    private static string Describe(BenchTextureScore s) => string.Create(CultureInfo.InvariantCulture,
        $"{s.Name,-12} {s.ExemplarSize}²  {s.Seconds,6:F1} s  completeness {string.Join("/", s.Scales.Select(x => x.Completeness.ToString("F3", CultureInfo.InvariantCulture)))} ({s.Completeness:F3})  coherence {string.Join("/", s.Scales.Select(x => x.Coherence.ToString("F3", CultureInfo.InvariantCulture)))} ({s.Coherence:F3})");
}

