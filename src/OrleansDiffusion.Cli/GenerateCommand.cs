using System.CommandLine;
using System.Diagnostics;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Client;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Cli;

/// <summary><c>odiff generate</c>: one job on the embedded default (the built-in exemplar denoiser, in this process).</summary>
internal static class GenerateCommand
{
    private static readonly JobSpec Defaults = new();

    private static readonly Option<string> Prompt = new("--prompt") { Description = "What to generate; texture and colour words pick the built-in exemplar (marble, bricks, wood, clouds, cells, terrain, ...).", DefaultValueFactory = _ => "" };
    private static readonly Option<string> NegativePrompt = new("--negative-prompt") { Description = "What to steer away from (Stable Diffusion models).", DefaultValueFactory = _ => "" };
    private static readonly Option<string?> Exemplar = new("--exemplar") { Description = "A PNG whose patches the built-in denoiser reproduces (instead of a procedural texture)." };
    private static readonly Option<string?> Model = new("--model") { Description = "A diffusers model folder (absent: the built-in exemplar denoiser)." };
    private static readonly Option<int> Width = new("--width") { Description = "Canvas width in pixels (multiple of 8).", DefaultValueFactory = _ => Defaults.Width };
    private static readonly Option<int> Height = new("--height") { Description = "Canvas height in pixels (multiple of 8).", DefaultValueFactory = _ => Defaults.Height };
    private static readonly Option<int> Steps = new("--steps") { Description = "Denoising steps.", DefaultValueFactory = _ => Defaults.Steps };
    private static readonly Option<long> Seed = new("--seed") { Description = "Seed of the noise field; the same seed gives the same image whatever the tiling.", DefaultValueFactory = _ => Defaults.Seed };
    private static readonly Option<int> Tile = new("--tile") { Description = "Tile (window) size in pixels.", DefaultValueFactory = _ => Defaults.Tile };
    private static readonly Option<int?> Overlap = new("--overlap") { Description = $"Overlap between neighbouring tiles (default {Defaults.Overlap}; 0 with --sync halo)." };
    private static readonly Option<SyncMode> Sync = new("--sync") { Description = "How tiles are kept in agreement between steps.", DefaultValueFactory = _ => Defaults.Sync };
    private static readonly Option<SchedulerKind> Scheduler = new("--scheduler") { Description = "Sampler.", DefaultValueFactory = _ => Defaults.Scheduler };
    private static readonly Option<double> Eta = new("--eta") { Description = "DDIM eta (0 deterministic .. 1 stochastic; noise from the shared field).", DefaultValueFactory = _ => 0 };
    private static readonly Option<bool> Karras = new("--karras") { Description = "Karras sigmas for the Euler scheduler." };
    private static readonly Option<double> Cfg = new("--cfg") { Description = "Classifier-free guidance weight (Stable Diffusion models).", DefaultValueFactory = _ => Defaults.Cfg };
    private static readonly Option<int> Silos = new("--silos") { Description = "Silos of the embedded local cluster.", DefaultValueFactory = _ => 1 };
    private static readonly Option<bool> Tileable = new("--tileable") { Description = "Wrap the canvas around so the image tiles seamlessly." };
    private static readonly Option<string> Out = new("--out") { Description = "Output PNG path.", DefaultValueFactory = _ => "odiff.png" };
    private static readonly Option<int> BitDepth = new("--bit-depth") { Description = "PNG bits per channel: 8 or 16.", DefaultValueFactory = _ => 8 };
    private static readonly Option<bool> Json = new("--json") { Description = "Print a JSON summary as the last line on stdout." };

    public static Command Create()
    {
        var command = new Command("generate", "Generate an image with tiled, synchronized diffusion.");
        foreach (var option in new Option[] { Prompt, NegativePrompt, Exemplar, Model, Width, Height, Steps, Seed, Tile, Overlap, Sync, Scheduler, Eta, Karras, Cfg, Silos, Tileable, Out, BitDepth, Json })
            command.Options.Add(option);
        command.SetAction((result, cancellation) => RunAsync(result, cancellation));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellation)
    {
        var sync = parsed.GetValue(Sync);
        var spec = new JobSpec
        {
            Prompt = parsed.GetValue(Prompt) ?? "",
            NegativePrompt = parsed.GetValue(NegativePrompt) ?? "",
            ExemplarPath = parsed.GetValue(Exemplar),
            ModelPath = parsed.GetValue(Model),
            Width = parsed.GetValue(Width),
            Height = parsed.GetValue(Height),
            Steps = parsed.GetValue(Steps),
            Seed = parsed.GetValue(Seed),
            Tile = parsed.GetValue(Tile),
            Overlap = parsed.GetValue(Overlap) ?? (sync == SyncMode.Halo ? 0 : Defaults.Overlap),
            Sync = sync,
            Scheduler = parsed.GetValue(Scheduler),
            Eta = parsed.GetValue(Eta),
            Karras = parsed.GetValue(Karras),
            Cfg = parsed.GetValue(Cfg),
            Tileable = parsed.GetValue(Tileable),
        };
        var request = new GenerateRequest(spec, parsed.GetValue(Out) ?? "", parsed.GetValue(Silos), parsed.GetValue(BitDepth), parsed.GetValue(Json));
        request.Validate();

        var (statistics, seam) = request.Silos == 1
            ? await RunInProcessAsync(request, cancellation)
            : await RunOnEmbeddedClusterAsync(request, cancellation);
        Console.Out.WriteLine(request.Json
            ? JsonSummary.Format(request, statistics, seam)
            : $"wrote {request.OutputPath} ({spec.Width}×{spec.Height}, {statistics.Tiles} tiles on {statistics.Silos} silo(s), {statistics.Seconds:F1} s, seam score {seam:F3})");
        return ExitCodes.Success;
    }

    /// <summary>--silos 1: the engine in this process, no cluster.</summary>
    private static async Task<(JobStatistics, double)> RunInProcessAsync(GenerateRequest request, CancellationToken cancellation)
    {
        var spec = request.Spec;
        var watch = Stopwatch.StartNew();
        using var denoiser = JobComponents.CreateExemplarDenoiser(spec);
        using var result = await ProgressDisplay.RunAsync(spec, progress => LocalGeneration.RunAsync(spec, denoiser, progress, cancellationToken: cancellation));
        var statistics = result.Statistics with { Seconds = watch.Elapsed.TotalSeconds };
        PngWriter.Write(request.OutputPath, result.Canvas, request.Depth, GenerationParameters.Format(spec, denoiser.Name));
        return (statistics, SeamScore.Compute(result.Canvas));
    }

    /// <summary>--silos N: an embedded cluster of N silos in this process; the job goes through the SDK.</summary>
    private static async Task<(JobStatistics, double)> RunOnEmbeddedClusterAsync(GenerateRequest request, CancellationToken cancellation)
    {
        var spec = request.Spec;
        var store = Directory.CreateTempSubdirectory("odiff-embedded-");
        try
        {
            await using var cluster = await EmbeddedCluster.StartAsync(Enumerable.Repeat(SiloRole.All, request.Silos).ToArray(), store.FullName, cancellation);
            var client = new DiffusionClient(cluster.Client);
            var status = await ProgressDisplay.RunAsync(spec, progress => client.RunAsync(spec,
                new StatusProgress(s => progress.Report(new StepProgress(s.Step, spec.Steps, s.Tiles, s.ElapsedSeconds, 0, 0))), cancellation));
            if (status.State != JobState.Completed)
                throw new InvalidOperationException($"job {status.JobId} ended {status.State.ToString().ToLowerInvariant()}: {status.Error}");
            await using (var result = await client.OpenResultAsync(status.JobId, cancellation))
                await AtomicFile.WriteAsync(request.OutputPath, result, cancellation);
            return (status.Statistics!, status.SeamScore);
        }
        finally
        {
            store.Delete(recursive: true);
        }
    }

    private sealed class StatusProgress(Action<JobStatus> report) : IProgress<JobStatus>
    {
        public void Report(JobStatus value) => report(value);
    }
}
