using System.CommandLine;
using System.Diagnostics;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Client;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Cli;

/// <summary><c>odiff generate</c>: one job in this process, with the built-in exemplar denoiser or a Stable Diffusion folder (<c>--model</c>).</summary>
internal static class GenerateCommand
{
    private static readonly JobOptions Job = new(ModelReference.LocalFolder);
    private static readonly Option<int> Silos = CliOption.Int("--silos", "Silos of the embedded local cluster (1: the engine in this process).", 1);
    private static readonly Option<string> Out = new("--out") { Description = "Output PNG path (checked before the job starts, written atomically).", DefaultValueFactory = _ => "odiff.png" };
    private static readonly Option<int> BitDepth = CliOption.Int("--bit-depth", "PNG bits per channel: 8 or 16.", 8);
    private static readonly Option<bool> Json = new("--json") { Description = "Print a JSON summary as the last line on stdout." };

    public static Command Create()
    {
        var command = new Command("generate", "Generate an image with tiled, synchronized diffusion.");
        Job.AddTo(command);
        foreach (var option in new Option[] { Silos, Out, BitDepth, Json }) command.Options.Add(option);
        command.SetAction((result, cancellation) => RunAsync(result, cancellation));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellation)
    {
        var spec = Job.ToSpec(parsed);
        var request = new GenerateRequest(spec, parsed.GetValue(Out) ?? "", parsed.GetValue(Silos), parsed.GetValue(BitDepth), parsed.GetValue(Json));
        request.Validate();
        if (spec.Model is not null) JobComponents.OpenModel(spec); // a malformed folder fails here, before anything runs or is written

        var (statistics, seam) = request.Silos == 1
            ? await RunInProcessAsync(request, cancellation)
            : await RunOnEmbeddedClusterAsync(request, parsed.GetValue(GlobalOptions.Verbose), cancellation);
        Console.Out.WriteLine(request.Json
            ? JsonSummary.Format(request, statistics, seam, TextureScoreCommand.ScoreAgainstExemplar(spec, request.Output))
            : $"wrote {request.Output} ({spec.Width}×{spec.Height}, {statistics.Tiles} tiles on {statistics.Silos} silo(s), {statistics.Seconds:F1} s, seam score {seam:F3})");
        return ExitCodes.Success;
    }

    /// <summary>--silos 1: the engine in this process, no cluster.</summary>
    private static async Task<(JobStatistics, double)> RunInProcessAsync(GenerateRequest request, CancellationToken cancellation)
    {
        var spec = request.Spec;
        var watch = Stopwatch.StartNew();
        using var denoiser = JobComponents.CreateDenoiser(spec);
        using var result = await ProgressDisplay.RunAsync(Title(spec), report => LocalGeneration.RunAsync(spec, denoiser,
            new SynchronousProgress<StepProgress>(p => report(p.Step, p.Steps,
                $"step {p.Step}/{p.Steps} · {p.Tiles} tiles · {p.ElapsedSeconds:F1} s (denoise {p.DenoiseSeconds:F1} s, sync {p.SyncSeconds:F2} s)")),
            cancellationToken: cancellation));
        var statistics = result.Statistics with { Seconds = watch.Elapsed.TotalSeconds };
        // LocalGeneration has decoded a latent canvas already, so the finisher gets pixels.
        var image = ImageFinisher.Finish(result.Canvas, decoder: null, spec, request.Output, request.Depth);
        return (statistics, image.SeamScore);
    }

    /// <summary>--silos N: an embedded cluster of N silos in this process; the job goes through the SDK.</summary>
    private static async Task<(JobStatistics, double)> RunOnEmbeddedClusterAsync(GenerateRequest request, bool verbose, CancellationToken cancellation)
    {
        // A local model folder becomes the embedded cluster's model store: its parent, with the folder's name as the model.
        var folder = request.Spec.Model is { } model ? Path.GetFullPath(Path.TrimEndingDirectorySeparator(model)) : null;
        var spec = folder is null ? request.Spec : request.Spec with { Model = Path.GetFileName(folder) };
        var store = Directory.CreateTempSubdirectory("odiff-embedded-");
        try
        {
            await using var cluster = await EmbeddedCluster.StartAsync(Enumerable.Repeat(SiloRole.All, request.Silos).ToArray(), store.FullName,
                o => o.ModelsDirectory = folder is null ? null : Path.GetDirectoryName(folder), CliLogging.Configure(verbose), cancellation);
            var client = new DiffusionClient(cluster.Client);
            var status = await ProgressDisplay.RunAsync(Title(spec), report => client.RunAsync(spec,
                new SynchronousProgress<JobStatus>(s => report(s.Step, spec.Steps, JobStatusOutput.ProgressLine(s))), cancellation));
            if (status.State != JobState.Completed)
                throw new InvalidOperationException($"job {status.JobId} ended {status.State.ToString().ToLowerInvariant()}: {status.Error}");
            await using (var result = await client.OpenResultAsync(status.JobId, cancellation))
                await AtomicFile.WriteAsync(request.Output, result, cancellation);
            return (status.Statistics!, status.SeamScore);
        }
        finally
        {
            store.Delete(recursive: true);
        }
    }

    private static string Title(JobSpec spec) => $"{spec.Width}×{spec.Height} · {spec.Sync.ToString().ToLowerInvariant()}";

}
