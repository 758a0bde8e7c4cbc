using System.Buffers.Binary;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.StableDiffusion;
using Orleans.Runtime;

namespace OrleansDiffusion.Cli;

/// <summary>The denoiser of an <c>odiff bench cluster</c> job.</summary>
internal enum BenchModel
{
    /// <summary>The built-in exemplar denoiser (no weights).</summary>
    Exemplar,

    /// <summary>The tiny random Stable Diffusion folder of <see cref="TinyModel"/>, written into the silos' model store.</summary>
    Tiny,
}

/// <summary>
/// <c>odiff bench cluster</c>: one real job on a real multi-process cluster on this machine (redis-server, a coordinator
/// silo and worker silos, started as <see cref="BenchCluster"/> does for <c>bench scaling</c>, here with the job's own
/// denoiser) and what it cost: wall time, peak RSS of every process, bytes per step against the exchange's bound,
/// denoise, sync and decode time. The job goes through the SDK like a user's; everything started is killed at the end.
/// </summary>
internal static class BenchClusterJob
{
    private const int MaxWorkers = 16;

    private static readonly Option<int> Size = CliOption.Int("--size", "Side of the square image in pixels.", 8192);
    private static readonly Option<BenchModel?> Model = CliOption.Enum<BenchModel>("--model", "exemplar: the built-in denoiser; tiny: a tiny random Stable Diffusion model written into the silos' model store (default: exemplar).");
    private static readonly Option<int?> Steps = CliOption.OptionalInt("--steps", "Denoising steps (default: 3 with exemplar, 4 with tiny).");
    private static readonly Option<int> Workers = CliOption.Int("--workers", "Worker silos (each a process with one libtorch thread).", 2);
    private static readonly Option<SyncMode?> Sync = CliOption.Enum<SyncMode>("--sync", $"Sync mode of the job (default: {CliOption.Spelling(new JobSpec().Sync)}).");
    private static readonly Option<int?> Tile = CliOption.OptionalInt("--tile", $"Tile size in pixels (default: {new JobSpec().Tile}, at most --size).");
    private static readonly Option<int?> Overlap = CliOption.OptionalInt("--overlap", $"Overlap between tiles in pixels (default: {new JobSpec().Overlap}, at most a quarter of the tile; 0 with --sync halo).");
    private static readonly Option<string?> Prompt = new("--prompt") { Description = "The job's prompt (default: 'marble' with exemplar, 'a photo of a cat' with tiny)." };
    private static readonly Option<string?> Out = new("--out") { Description = "Where to write the job's PNG (default: fetched and discarded)." };
    private static readonly Option<int> Timeout = CliOption.Int("--timeout", "Seconds to wait for the job before giving up.", 3600);
    private static readonly Option<string?> Silo = new("--silo") { Description = "The silo (OrleansDiffusion.Silo.dll); default: the one built beside this checkout." };
    private static readonly Option<bool> Json = new("--json") { Description = "Print the results as one JSON object on the last line." };

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create()
    {
        var command = new Command("cluster", "One real job on a multi-process cluster on this machine (redis, a coordinator, workers): wall time, peak RSS per process, bytes per step, decode time.");
        foreach (var option in new Option[] { Size, Model, Steps, Workers, Sync, Tile, Overlap, Prompt, Out, Timeout, Silo, Json }) command.Options.Add(option);
        command.SetAction((parsed, cancellation) => RunAsync(parsed, cancellation));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellation)
    {
        var model = parsed.GetValue(Model) ?? BenchModel.Exemplar;
        var size = parsed.GetValue(Size);
        var workers = parsed.GetValue(Workers);
        var timeout = parsed.GetValue(Timeout);
        var output = parsed.GetValue(Out);
        var sync = parsed.GetValue(Sync) ?? new JobSpec().Sync;
        var tile = parsed.GetValue(Tile) ?? Math.Min(new JobSpec().Tile, size);
        var spec = new JobSpec
        {
            Prompt = parsed.GetValue(Prompt) ?? (model == BenchModel.Tiny ? "a photo of a cat" : "marble"),
            Model = model == BenchModel.Tiny ? TinyName : null,
            Width = size,
            Height = size,
            Steps = parsed.GetValue(Steps) ?? (model == BenchModel.Tiny ? 4 : 3),
            Seed = 1,
            Tile = tile,
            Overlap = parsed.GetValue(Overlap) ?? (sync == SyncMode.Halo ? 0 : Math.Min(new JobSpec().Overlap, tile / 4 / 8 * 8)),
            Sync = sync,
        };

        var errors = JobSpecValidator.ValidateForCluster(spec).Select(AsSizeOption).ToList();
        if (workers is < 1 or > MaxWorkers) errors.Add(new("workers", $"must be between 1 and {MaxWorkers}, got {workers}"));
        if (timeout < 1) errors.Add(new("timeout", $"must be positive, got {timeout}"));
        if (output is not null && OutputPath.CheckFile("out", output, ".png") is { } badOutput) errors.Add(badOutput);
        if (errors.Count > 0) throw new InvalidJobException(errors.DistinctBy(e => e.ToString()).ToList());
        var silo = parsed.GetValue(Silo) ?? BenchCluster.DefaultSilo()
            ?? throw new InvalidJobException("silo", "no built silo found beside this checkout; build silos/OrleansDiffusion.Silo or pass --silo PATH");
        if (!File.Exists(silo)) throw new InvalidJobException("silo", $"'{CliText.Printable(silo)}' is not a file");
        var json = parsed.GetValue(Json);
        var log = json ? Console.Error : Console.Out;

        var models = model == BenchModel.Tiny ? WriteTinyModelStore(spec) : null;
        try
        {
            var result = await MeasureAsync(silo, spec, model, workers, models, output, TimeSpan.FromSeconds(timeout), log, cancellation);
            Describe(result, log);
            if (json) Console.Out.WriteLine(JsonSerializer.Serialize(result, JsonOptions));
            return ExitCodes.Success;
        }
        finally
        {
            if (models is not null) Directory.Delete(models, recursive: true);
        }
    }

    private const string TinyName = "tiny";

    /// <summary>A model store holding the tiny model as <see cref="TinyName"/>, checked against the spec (canvas, tile and
    /// overlap on its latent grid; no halo sync) before any process starts.</summary>
    private static string WriteTinyModelStore(JobSpec spec)
    {
        var store = Directory.CreateTempSubdirectory("odiff-bench-models-").FullName;
        try
        {
            var folder = Path.Combine(store, TinyName);
            TinyModel.Write(folder);
            try
            {
                JobComponents.OpenModel(spec with { Model = folder });
            }
            catch (InvalidJobException e)
            {
                throw new InvalidJobException(e.Errors.Select(AsSizeOption).DistinctBy(x => x.ToString()).ToList());
            }
            return store;
        }
        catch
        {
            Directory.Delete(store, recursive: true);
            throw;
        }
    }

    /// <summary>Width and height are one option here.</summary>
    private static ValidationError AsSizeOption(ValidationError error) =>
        error.Field is "width" or "height" ? error with { Field = "size", Message = error.Message.Replace("width × height", "size²", StringComparison.Ordinal) } : error;

    private static async Task<BenchClusterResult> MeasureAsync(
        string silo, JobSpec spec, BenchModel model, int workers, string? models, string? output, TimeSpan timeout, TextWriter log,
        CancellationToken cancellation)
    {
        var startup = Stopwatch.StartNew();
        await using var cluster = await BenchCluster.StartAsync(silo, new BenchClusterOptions { ModelsDirectory = models }, log, cancellation);
        await using var sampler = new ProcessMemorySampler(() => [.. cluster.Processes.Select(p => p.Process.Id), Environment.ProcessId], TimeSpan.FromMilliseconds(500));
        await cluster.ScaleToAsync(workers, cancellation);
        await using var connection = await cluster.ConnectAsync(cancellation);
        var client = connection.Client;
        await WaitForWorkersAsync(cluster, client, spec, workers, log, cancellation);
        var startupSeconds = startup.Elapsed.TotalSeconds;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bench: cluster of {workers} worker(s) ready in {startupSeconds:F1} s; submitting {spec.Width}×{spec.Height}, {CliOption.Spelling(model)}, {spec.Steps} steps, tile {spec.Tile}/{spec.Overlap}, {CliOption.Spelling(spec.Sync)} sync"));

        var wall = Stopwatch.StartNew();
        var jobId = await client.SubmitAsync(spec, cancellationToken: cancellation);
        JobStatus status;
        try
        {
            status = await WatchAsync(cluster, client, jobId, timeout, cancellation);
            if (status.State != JobState.Completed)
            {
                cluster.KeepLogs();
                throw new InvalidOperationException($"job {jobId} ended {JobStatusOutput.State(status)} at step {status.Step}/{spec.Steps}: {status.Error}; logs in {cluster.Folder}");
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // What each process had used when the job failed: a process killed for memory shows its last samples here.
            var used = sampler.Sample();
            log.WriteLine("bench: peak RSS until the failure: " + string.Join(", ", cluster.Processes.Select(p => used.TryGetValue(p.Process.Id, out var m)
                ? $"{p.Name} {MiB(Math.Max(m.Last.HighWaterMark, m.MaxSampledRss))}"
                : $"{p.Name} unknown")));
            throw;
        }
        var wallSeconds = wall.Elapsed.TotalSeconds;
        var statistics = status.Statistics ?? throw new InvalidOperationException($"job {jobId} completed without statistics");

        var fetch = Stopwatch.StartNew();
        var path = output ?? Path.Combine(cluster.Folder, "result.png");
        long bytes;
        await using (var result = await client.OpenResultAsync(jobId, cancellation))
            bytes = await AtomicFile.WriteAsync(path, result, cancellation);
        var fetchSeconds = fetch.Elapsed.TotalSeconds;
        var (width, height) = PngSize(path);

        // The peaks, read once more before anything is killed (VmHWM covers what the sampling may have missed).
        var memory = sampler.Sample();
        var processes = cluster.Processes.Select(p => (p.Role, p.Name, Pid: p.Process.Id))
            .Append((Role: "client", Name: "odiff", Pid: Environment.ProcessId))
            .Select(p => memory.TryGetValue(p.Pid, out var m)
                ? new ProcessResult(p.Role, p.Name, p.Pid, Math.Max(m.Last.HighWaterMark, m.MaxSampledRss), m.Last.HighWaterMark, m.MaxSampledRss, m.Last.Rss, m.Last.RssAnonymous)
                : new ProcessResult(p.Role, p.Name, p.Pid, 0, 0, 0, 0, 0))
            .ToList();
        return new BenchClusterResult(
            spec.Width, CliOption.Spelling(model), spec.Steps, workers, CliOption.Spelling(spec.Sync), spec.Tile, spec.Overlap, statistics.Tiles,
            statistics.Silos, Round(wallSeconds), Round(startupSeconds), Round(statistics.Seconds), Round(statistics.DenoiseSeconds),
            Round(statistics.SyncSeconds), Round(statistics.DecodeSeconds), Round(fetchSeconds), statistics.BytesPerStep, statistics.BytesPerStepBound,
            statistics.BytesPerStepBound > 0 ? Math.Round((double)statistics.BytesPerStep / statistics.BytesPerStepBound, 4) : null,
            statistics.BandBytesPerStep,
            statistics.BytesPerStepBound > 0 && statistics.BandBytesPerStep > 0 ? Math.Round((double)statistics.BandBytesPerStep / statistics.BytesPerStepBound, 4) : null,
            statistics.ForwardCallsPerStep, width, height, bytes, output is null ? null : Path.GetFullPath(output), jobId, processes);
    }

    /// <summary>Workers join Redis membership a little after they answer ready; a job planned before the coordinator sees
    /// them all would place its tiles on fewer. Waits (up to a minute) until a small probe job of the same model reaches
    /// every worker, so the measured job runs on all of them.</summary>
    private static async Task WaitForWorkersAsync(BenchCluster cluster, DiffusionClient client, JobSpec spec, int workers, TextWriter log, CancellationToken cancellation)
    {
        var probe = spec with { Width = 256, Height = 256, Tile = 64, Overlap = spec.Sync == SyncMode.Halo ? 0 : 16, Steps = 1 };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var id = await client.SubmitAsync(probe, cancellationToken: cancellation);
            var status = await WatchAsync(cluster, client, id, TimeSpan.FromMinutes(3), cancellation, quiet: true);
            if (status is not { State: JobState.Completed, Statistics: { } statistics })
            {
                cluster.KeepLogs();
                throw new InvalidOperationException($"probe job {id} ended {JobStatusOutput.State(status)}: {status.Error}; logs in {cluster.Folder}");
            }
            if (statistics.Silos >= workers || clock.Elapsed > TimeSpan.FromMinutes(1)) return;
            log.WriteLine($"bench: a probe job reached {statistics.Silos} of {workers} workers; waiting for membership");
            await Task.Delay(TimeSpan.FromSeconds(2), cancellation);
        }
    }

    /// <summary>Watches the job to its end (progress on stderr), failing early when one of the cluster's processes dies
    /// and after <paramref name="timeout"/>.</summary>
    private static async Task<JobStatus> WatchAsync(
        BenchCluster cluster, DiffusionClient client, string jobId, TimeSpan timeout, CancellationToken cancellation, bool quiet = false)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        stop.CancelAfter(timeout);
        var watch = quiet ? WatchQuietlyAsync(client, jobId, stop.Token) : JobStatusOutput.WatchAsync(client, jobId, stop.Token);
        while (!watch.IsCompleted)
        {
            await Task.WhenAny(watch, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None));
            if (watch.IsCompleted || cluster.Processes.FirstOrDefault(p => p.Process.HasExited) is not { } exited) continue;
            await stop.CancelAsync();
            try
            {
                await watch;
            }
            catch (Exception e) when (e is OperationCanceledException or OrleansException or TimeoutException)
            {
            }
            cluster.KeepLogs();
            var code = exited.Process.ExitCode;
            throw new InvalidOperationException(
                $"{exited.Name} exited (code {code}{(code == 137 ? ": SIGKILL, e.g. the kernel's out-of-memory killer" : "")}) during job {jobId}; logs in {cluster.Folder}");
        }
        try
        {
            return await watch;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            cluster.KeepLogs();
            throw new TimeoutException($"job {jobId} did not finish within {timeout.TotalSeconds:F0} s; logs in {cluster.Folder}");
        }
    }

    private static async Task<JobStatus> WatchQuietlyAsync(DiffusionClient client, string jobId, CancellationToken cancellation)
    {
        JobStatus? last = null;
        await foreach (var status in client.WatchAsync(jobId, cancellation)) last = status;
        return last!;
    }

    /// <summary>Width and height from a PNG's IHDR chunk (bytes 16–23, big-endian).</summary>
    private static (int Width, int Height) PngSize(string path)
    {
        Span<byte> header = stackalloc byte[24];
        using (var file = File.OpenRead(path)) file.ReadExactly(header);
        if (!header[12..16].SequenceEqual("IHDR"u8)) throw new InvalidDataException($"{path} is not a PNG (no IHDR chunk first)");
        return (BinaryPrimitives.ReadInt32BigEndian(header[16..20]), BinaryPrimitives.ReadInt32BigEndian(header[20..24]));
    }

    private static string MiB(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("N1", CultureInfo.InvariantCulture) + " MiB";

    private static void Describe(BenchClusterResult r, TextWriter log)
    {
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.Size}×{r.Size} {r.Model}, {r.Steps} steps, {r.Tiles} tiles on {r.Silos} of {r.Workers} worker(s), {r.Sync} sync, tile {r.Tile}/{r.Overlap} (job {r.JobId})"));
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  wall {r.WallSeconds:F1} s (engine {r.EngineSeconds:F1} s: denoise {r.DenoiseSeconds:F1} s, sync {r.SyncSeconds:F1} s; decode {r.DecodeSeconds:F1} s); fetch {r.FetchSeconds:F1} s; cluster start {r.StartupSeconds:F1} s"));
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  bytes/step {r.BytesPerStep:N0}, bound {r.BytesPerStepBound:N0}, ratio {(r.BytesRatio is { } ratio ? ratio.ToString("F3", CultureInfo.InvariantCulture) : "n/a (no bound reported)")}; band-only steps {r.BandBytesPerStep:N0} ({(r.BandBytesRatio is { } band ? band.ToString("F3", CultureInfo.InvariantCulture) + "× the bound" : "none")})"));
        log.WriteLine("  peak RSS: " + string.Join(", ", r.Processes.Select(p => $"{p.Name} {MiB(p.PeakRssBytes)}")));
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  image {r.ImageWidth}×{r.ImageHeight}, {r.OutputBytes:N0} bytes{(r.Output is null ? " (discarded)" : $" at {r.Output}")}"));
    }

    private static double Round(double seconds) => Math.Round(seconds, 3);

    /// <summary>The JSON line (snake_case keys).</summary>
    private sealed record BenchClusterResult(
        int Size, string Model, int Steps, int Workers, string Sync, int Tile, int Overlap, int Tiles, int Silos, double WallSeconds,
        double StartupSeconds, double EngineSeconds, double DenoiseSeconds, double SyncSeconds, double DecodeSeconds, double FetchSeconds,
        long BytesPerStep, long BytesPerStepBound, double? BytesRatio, long BandBytesPerStep, double? BandBytesRatio, double ForwardCallsPerStep, int ImageWidth, int ImageHeight,
        long OutputBytes, string? Output, string JobId, IReadOnlyList<ProcessResult> Processes);

    /// <param name="PeakRssBytes">the larger of the kernel's VmHWM and the largest VmRSS sampled every 500 ms.</param>
    private sealed record ProcessResult(
        string Role, string Name, int Pid, long PeakRssBytes, long VmHwmBytes, long SampledPeakRssBytes, long RssAtEndBytes, long RssAnonAtEndBytes);
}
