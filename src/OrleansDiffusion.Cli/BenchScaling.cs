using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Cli;

/// <summary>
/// <c>odiff bench scaling</c>: strong scaling of one job over real silo processes on this machine. It starts a
/// redis-server on a free loopback port, one coordinator silo and worker silos whose tiles use a simulated denoiser
/// (<c>OrleansDiffusion__BenchmarkTileMilliseconds</c>: a fixed sleep per window, so processes do not compete for cores;
/// the coordinator plans for it: no context bands, as for the SD UNet it stands in for), adds workers up to each count,
/// runs the same job twice (a warm-up, then the measured run) and reports the step time, the coordinator's share, the
/// step messages per step and the efficiency against one worker. Everything it started is killed at the end.
/// </summary>
internal static partial class BenchCommands
{
    private static readonly Option<string> Workers = new("--workers") { Description = "Worker counts to measure, ascending, comma-separated (the first is the baseline).", DefaultValueFactory = _ => "1,2,4,8,16" };
    private static readonly Option<int> Tiles = CliOption.Int("--tiles", "Tiles of the job (a grid of rows × columns; 64 = 8 × 8).", 64);
    private static readonly Option<double> TileMs = CliOption.Double("--tile-ms", "Simulated denoiser cost per tile and step, in milliseconds.", 20);
    private static readonly Option<int> Steps = CliOption.Int("--steps", "Denoising steps of the job.", 8);
    private static readonly Option<SyncMode?> BenchSync = CliOption.Enum<SyncMode>("--sync", "Sync mode of the job (default attention).");
    private static readonly Option<string?> Silo = new("--silo") { Description = "The silo (OrleansDiffusion.Silo.dll); default: the one built beside this checkout." };
    private static readonly Option<bool> Json = new("--json") { Description = "Print the results as one JSON object on the last line." };

    private static Command CreateScaling()
    {
        var scaling = new Command("scaling", "Strong scaling over real silo processes (a simulated fixed-cost denoiser; a benchmark, not a job).");
        foreach (var option in new Option[] { Workers, Tiles, TileMs, Steps, BenchSync, Silo, Json }) scaling.Options.Add(option);
        scaling.SetAction((parsed, cancellation) => ScalingAsync(parsed, cancellation));
        return scaling;
    }

    private static async Task<int> ScalingAsync(ParseResult parsed, CancellationToken cancellation)
    {
        var counts = ParseWorkers(parsed.GetValue(Workers)!);
        var tiles = parsed.GetValue(Tiles);
        var tileMs = parsed.GetValue(TileMs);
        var steps = parsed.GetValue(Steps);
        var errors = new List<ValidationError>();
        if (tiles < 1) errors.Add(new("tiles", $"must be positive, got {tiles}"));
        if (tileMs <= 0) errors.Add(new("tile-ms", $"must be positive, got {tileMs}"));
        if (steps < 2) errors.Add(new("steps", $"must be at least 2, got {steps}"));
        if (errors.Count > 0) throw new InvalidJobException(errors);
        var silo = parsed.GetValue(Silo) ?? BenchCluster.DefaultSilo()
            ?? throw new InvalidJobException("silo", "no built silo found beside this checkout; build silos/OrleansDiffusion.Silo or pass --silo PATH");
        var json = parsed.GetValue(Json);
        var log = json ? Console.Error : Console.Out;

        // A grid of rows × columns windows of 64 with overlap 16 (stride 48; halo sync: no overlap).
        var sync = parsed.GetValue(BenchSync) ?? SyncMode.Attention;
        var overlap = sync == SyncMode.Halo ? 0 : 16;
        var rows = Enumerable.Range(1, (int)Math.Sqrt(tiles)).Last(r => tiles % r == 0);
        var columns = tiles / rows;
        var spec = new JobSpec
        {
            Prompt = "marble", Width = 64 + (columns - 1) * (64 - overlap), Height = 64 + (rows - 1) * (64 - overlap), Tile = 64,
            Overlap = overlap, Steps = steps, Seed = 1, Sync = sync,
        };

        await using var cluster = await BenchCluster.StartAsync(silo, new BenchClusterOptions { TileMilliseconds = tileMs, SteadyStateJit = true }, log, cancellation);
        var results = new List<ScalingResult>();
        foreach (var count in counts)
        {
            await cluster.ScaleToAsync(count, cancellation);
            // An unmeasured run first: new silos JIT and tier up their code, open connections and settle membership in it,
            // so the measured run sees the steady state of a cluster that has been running (not its warm-up).
            await cluster.RunAsync(spec, count, cancellation);
            var run = await cluster.RunAsync(spec, count, cancellation);
            var efficiency = results.Count == 0 ? 1.0 : results[0].StepSeconds * results[0].Workers / (count * run.StepSeconds);
            var result = new ScalingResult(count, run.StepSeconds, run.CoordinatorShare, run.SyncShare, efficiency, run.StepCallsPerStep);
            results.Add(result);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{count,3} workers: {run.StepSeconds * 1000,8:F1} ms/step  coordinator {run.CoordinatorShare:P1} (sync {run.SyncShare:P1})  efficiency {efficiency:P1}  ({tiles} tiles × {tileMs} ms, {run.Silos} silos used, {run.StepCallsPerStep:F1} step messages per step)"));
        }
        if (json)
        {
            var document = new
            {
                results = results.Select(r => new { workers = r.Workers, step_seconds = Math.Round(r.StepSeconds, 5), coordinator_share = Math.Round(r.CoordinatorShare, 4), sync_share = Math.Round(r.SyncShare, 4), efficiency = Math.Round(r.Efficiency, 4), step_calls_per_step = Math.Round(r.StepCallsPerStep, 3) }),
            };
            Console.Out.WriteLine(JsonSerializer.Serialize(document));
        }
        return ExitCodes.Success;
    }

    private static int[] ParseWorkers(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var counts = new List<int>();
        foreach (var part in parts)
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) || count < 1 || count > 64)
                throw new InvalidJobException("workers", $"expected comma-separated worker counts from 1 to 64, got '{part}'");
            if (counts.Count > 0 && count <= counts[^1])
                throw new InvalidJobException("workers", $"counts must ascend, got {count} after {counts[^1]}");
            counts.Add(count);
        }
        if (counts.Count == 0) throw new InvalidJobException("workers", "give at least one worker count");
        return [.. counts];
    }

    private sealed record ScalingResult(int Workers, double StepSeconds, double CoordinatorShare, double SyncShare, double Efficiency, double StepCallsPerStep);
}

/// <summary>What one benchmark job measured.</summary>
/// <param name="CoordinatorShare">the share of a step's critical path outside the denoisers: the coordinator's sync,
/// gather and scatter, and the messages between it and the tiles.</param>
/// <param name="SyncShare">the share of the job's wall time spent in the coordinator's sync math alone.</param>
/// <param name="StepCallsPerStep">messages the coordinator sent per step (one per worker silo after the first step).</param>
internal sealed record BenchRun(double StepSeconds, double CoordinatorShare, double SyncShare, int Silos, double StepCallsPerStep);

/// <summary>How the silos of a <see cref="BenchCluster"/> run their tiles.</summary>
internal sealed record BenchClusterOptions
{
    /// <summary>&gt; 0: workers use the simulated denoiser that sleeps this long per window; 0: the job's real denoiser.</summary>
    public double TileMilliseconds { get; init; }

    /// <summary>The silos' model store (<c>OrleansDiffusion__ModelsDirectory</c>); null: none.</summary>
    public string? ModelsDirectory { get; init; }

    /// <summary>Silos compile each method fully optimised on first use (<c>DOTNET_TieredCompilation=0</c>) instead of
    /// re-compiling hot methods in the background for the first minutes of a process: measured here, that re-JIT took
    /// 20–40% of every fresh silo's CPU through the first jobs, which a long-running cluster has long finished but which
    /// the benchmark's silos, many processes sharing a few cores, would otherwise pay inside the steps it measures.</summary>
    public bool SteadyStateJit { get; init; }
}

/// <summary>One process a <see cref="BenchCluster"/> started: <paramref name="Role"/> is redis, coordinator or worker.</summary>
internal sealed record BenchProcess(string Name, string Role, Process Process);

/// <summary>redis-server, a coordinator silo and worker silos on loopback, killed (with their children) on dispose.</summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    private readonly List<BenchProcess> _processes = []; // locked: a memory sampler reads it while workers are added
    private readonly Dictionary<Process, (string Log, Action Relaunch)> _silos = [];
    private int _relaunches;
    private readonly List<int> _workerHttp = [];
    private readonly string _folder = Directory.CreateTempSubdirectory("odiff-bench-").FullName;
    private readonly string _silo;
    private readonly BenchClusterOptions _options;
    private readonly TextWriter _log;
    private readonly string _clusterId = $"bench-{Guid.NewGuid():N}"[..14];
    private int _redisPort;
    private int _coordinatorHttp;
    private bool _keepLogs;

    private BenchCluster(string silo, BenchClusterOptions options, TextWriter log) => (_silo, _options, _log) = (silo, options, log);

    /// <summary>Every process started so far, in start order (redis, coordinator, workers): a snapshot.</summary>
    public IReadOnlyList<BenchProcess> Processes
    {
        get
        {
            lock (_processes) return [.. _processes];
        }
    }

    /// <summary>The folder with the processes' logs (and the silos' outputs).</summary>
    public string Folder => _folder;

    /// <summary>Keep the processes' logs (not the outputs) when disposing, for a failure's post-mortem.</summary>
    public void KeepLogs() => _keepLogs = true;

    /// <summary>silos/OrleansDiffusion.Silo/bin/CONFIG/TFM/OrleansDiffusion.Silo.dll beside the checkout this odiff was built in.</summary>
    public static string? DefaultSilo()
    {
        var build = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory).Split(Path.DirectorySeparatorChar)[^2..];
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (!File.Exists(Path.Combine(folder.FullName, "OrleansDiffusion.sln"))) continue;
            var path = Path.Combine([folder.FullName, "silos", "OrleansDiffusion.Silo", "bin", .. build, "OrleansDiffusion.Silo.dll"]);
            return File.Exists(path) ? path : null;
        }
        return null;
    }

    public static async Task<BenchCluster> StartAsync(string silo, BenchClusterOptions options, TextWriter log, CancellationToken cancellation)
    {
        var cluster = new BenchCluster(silo, options, log);
        try
        {
            await cluster.StartCoreAsync(cancellation);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellation)
    {
        var redis = FindExecutable("redis-server") ?? throw new InvalidOperationException("redis-server is not installed (apt-get install redis-server)");
        _redisPort = LoopbackPorts.Next();
        Start("redis", "redis", redis, ["--port", _redisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _folder], null);
        await WaitAsync("redis-server", () => PingRedisAsync(_redisPort), cancellation);
        LaunchCoordinator(1);
        await WaitAsync("the coordinator's /health/ready", () => ReadyAsync(_coordinatorHttp), cancellation);
        _log.WriteLine($"bench: redis on {_redisPort}, coordinator ready (cluster {_clusterId})");
    }

    /// <summary>Starts workers until there are <paramref name="count"/>, and waits until each is ready.</summary>
    public async Task ScaleToAsync(int count, CancellationToken cancellation)
    {
        var started = new List<int>();
        while (_workerHttp.Count < count)
        {
            started.Add(_workerHttp.Count);
            _workerHttp.Add(0);
            LaunchWorker(_workerHttp.Count - 1, 1);
        }
        foreach (var index in started)
            await WaitAsync($"worker {index}'s /health/ready", () => ReadyAsync(_workerHttp[index]), cancellation);
    }

    private void LaunchCoordinator(int attempt)
    {
        _coordinatorHttp = LoopbackPorts.Next();
        StartSilo("coordinator", "coordinator", attempt, SiloEnvironment("Coordinator", "bench-coordinator", _coordinatorHttp, LoopbackPorts.Next()),
            () => LaunchCoordinator(attempt + 1));
    }

    private void LaunchWorker(int index, int attempt)
    {
        _workerHttp[index] = LoopbackPorts.Next();
        StartSilo($"worker {index}", "worker", attempt, SiloEnvironment("Worker", $"bench-worker-{index}", _workerHttp[index], 0),
            () => LaunchWorker(index, attempt + 1));
    }

    /// <summary>A silo that <paramref name="relaunch"/> starts again on fresh ports if a program outside
    /// <see cref="LoopbackPorts"/> binds one of its ports before the silo does.</summary>
    private void StartSilo(string name, string role, int attempt, Dictionary<string, string> environment, Action relaunch)
    {
        var log = Start(name, role, "dotnet", [_silo], environment, attempt);
        _silos[Processes[^1].Process] = (log, relaunch);
    }

    /// <summary>An SDK connection to the cluster (through Redis membership, as a user's client would connect).</summary>
    public Task<DiffusionConnection> ConnectAsync(CancellationToken cancellation) => DiffusionConnection.ConnectAsync(
        new DiffusionClientOptions { Redis = $"127.0.0.1:{_redisPort}", ClusterId = _clusterId, ServiceId = "odiff" },
        TimeSpan.FromSeconds(60), cancellationToken: cancellation);

    /// <summary>Runs the job (again, after letting membership settle, if its tiles did not reach every worker).</summary>
    public async Task<BenchRun> RunAsync(JobSpec spec, int workers, CancellationToken cancellation)
    {
        await using var connection = await ConnectAsync(cancellation);
        BenchRun? run = null;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            run = await RunOnceAsync(connection.Client, spec, cancellation);
            if (run.Silos >= workers) return run;
            _log.WriteLine($"bench: tiles reached {run.Silos} of {workers} workers; waiting for membership and running again");
            await Task.Delay(TimeSpan.FromSeconds(3), cancellation);
        }
        return run!;
    }

    private static async Task<BenchRun> RunOnceAsync(DiffusionClient client, JobSpec spec, CancellationToken cancellation)
    {
        // Step time from the progress stream (first and last step seen while running), so starting and finishing the job
        // (tile activation, stitching, PNG) do not count.
        var clock = Stopwatch.StartNew();
        (int Step, double Seconds)? first = null, last = null;
        var jobId = await client.SubmitAsync(spec, cancellationToken: cancellation);
        JobStatus? final = null;
        await foreach (var status in client.WatchAsync(jobId, cancellation))
        {
            final = status;
            if (status.State != JobState.Running || status.Step < 1) continue;
            var at = (status.Step, clock.Elapsed.TotalSeconds);
            first ??= at;
            if (at.Step > (last?.Step ?? 0)) last = at;
        }
        if (final is not { State: JobState.Completed, Statistics: { } statistics })
            throw new InvalidOperationException($"benchmark job {jobId} ended {final?.State}: {final?.Error}");
        var stepSeconds = first is { } f && last is { } l && l.Step > f.Step
            ? (l.Seconds - f.Seconds) / (l.Step - f.Step)
            : statistics.Seconds / spec.Steps;
        var share = Math.Clamp(1 - statistics.DenoiseSeconds / statistics.Seconds, 0, 1);
        return new BenchRun(stepSeconds, share, Math.Clamp(statistics.SyncSeconds / statistics.Seconds, 0, 1), statistics.Silos, statistics.StepCallsPerStep);
    }

    private Dictionary<string, string> SiloEnvironment(string role, string name, int http, int gateway)
    {
        var environment = new Dictionary<string, string>
        {
            ["OrleansDiffusion__Role"] = role,
            ["OrleansDiffusion__Devices"] = "cpu",
            ["OrleansDiffusion__Redis"] = $"127.0.0.1:{_redisPort}",
            ["OrleansDiffusion__ClusterId"] = _clusterId,
            ["OrleansDiffusion__ServiceId"] = "odiff",
            ["OrleansDiffusion__SiloPort"] = LoopbackPorts.Next().ToString(CultureInfo.InvariantCulture),
            ["OrleansDiffusion__GatewayPort"] = (gateway == 0 ? 0 : LoopbackPorts.Next()).ToString(CultureInfo.InvariantCulture),
            ["OrleansDiffusion__HttpPort"] = http.ToString(CultureInfo.InvariantCulture),
            ["OrleansDiffusion__AdvertisedAddress"] = "127.0.0.1",
            ["OrleansDiffusion__SiloName"] = name,
            ["OrleansDiffusion__OutputDirectory"] = Path.Combine(_folder, "outputs"),
            ["OrleansDiffusion__CheckpointEvery"] = "0",
            ["OrleansDiffusion__IntraOpThreads"] = "1",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        // The simulated denoiser only where asked for; otherwise workers run the job's own model. The coordinator plans
        // for it too: it reads no context, like the SD UNet it stands in for.
        if (_options.TileMilliseconds > 0)
            environment["OrleansDiffusion__BenchmarkTileMilliseconds"] = _options.TileMilliseconds.ToString(CultureInfo.InvariantCulture);
        if (_options.ModelsDirectory is { } models) environment["OrleansDiffusion__ModelsDirectory"] = models;
        if (_options.SteadyStateJit) environment["DOTNET_TieredCompilation"] = "0";
        return environment;
    }

    private string Start(string name, string role, string file, string[] arguments, Dictionary<string, string>? environment, int attempt = 1)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            UseShellExecute = false, WorkingDirectory = _folder,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? []) info.Environment[key] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
        var logPath = Path.Combine(_folder, $"{name.Replace(' ', '-')}{(attempt > 1 ? $"-{attempt}" : "")}.log");
        var logFile = new StreamWriter(logPath) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (logFile) logFile.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (logFile) logFile.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_processes) _processes.Add(new BenchProcess(name, role, process));
        return logPath;
    }

    private async Task WaitAsync(string what, Func<Task<bool>> condition, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (Processes.FirstOrDefault(p => p.Process.HasExited) is { } exited)
            {
                if (_relaunches < 4 && _silos.Remove(exited.Process, out var silo) && LostPort(exited.Process, silo.Log))
                {
                    _relaunches++;
                    _log.WriteLine($"bench: {exited.Name} lost a port to another process before binding it; starting it again");
                    lock (_processes) _processes.Remove(exited);
                    exited.Process.Dispose();
                    silo.Relaunch();
                    continue;
                }
                KeepLogs();
                throw new InvalidOperationException($"{exited.Name} exited (code {exited.Process.ExitCode}) before {what}; logs in {_folder}");
            }
            if (clock.Elapsed > TimeSpan.FromMinutes(3))
            {
                KeepLogs();
                throw new TimeoutException($"{what} not reached within 3 minutes; logs in {_folder}");
            }
            await Task.Delay(250, cancellation);
        }
    }

    private static bool LostPort(Process exited, string log)
    {
        exited.WaitForExit(); // the redirected output is complete
        try
        {
            using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return reader.ReadToEnd().Contains("address already in use", StringComparison.OrdinalIgnoreCase);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task<bool> ReadyAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health/ready"));
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static async Task<bool> PingRedisAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return read >= 5 && buffer[0] == (byte)'+';
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private static string? FindExecutable(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/sbin", "/usr/local/bin"])
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    public ValueTask DisposeAsync()
    {
        foreach (var (_, _, process) in Processes.Reverse())
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
            }
            process.Dispose();
        }
        try
        {
            if (!_keepLogs) Directory.Delete(_folder, recursive: true);
            else foreach (var folder in Directory.GetDirectories(_folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        return ValueTask.CompletedTask;
    }
}
