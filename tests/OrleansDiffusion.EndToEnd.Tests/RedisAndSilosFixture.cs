using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>
/// A real multi-process cluster on loopback: a <c>redis-server</c> (AOF on, in a temporary folder) and two silo
/// processes sharing it for membership: an accelerator <c>Worker</c> (tile grains, no gateway) and a
/// <c>Coordinator</c> (coordinator and registry grains, the client gateway). Everything is killed on dispose.
/// </summary>
public sealed class RedisAndSilosFixture : IAsyncLifetime
{
    private readonly int _workers = 1;
    private readonly int _coordinators = 1;
    private readonly ClusterSettings _settings = new();

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly List<ChildProcess> _processes = [];
    private readonly Dictionary<string, ChildProcess> _silos = [];

    /// <summary>One worker and one coordinator silo (the shared collection fixture).</summary>
    public RedisAndSilosFixture()
    {
    }

    /// <summary>A cluster of its own, for tests that kill silos.</summary>
    internal RedisAndSilosFixture(int workers, int coordinators) => (_workers, _coordinators) = (workers, coordinators);

    /// <summary>A cluster of its own with extra settings (Redis arguments, silo environment).</summary>
    internal RedisAndSilosFixture(ClusterSettings settings) => (_workers, _coordinators, _settings) = (settings.Workers, settings.Coordinators, settings);

    /// <summary>Every silo started, in order, with its ports.</summary>
    internal List<StartedSilo> Silos { get; } = [];

    public string Folder { get; } = Directory.CreateTempSubdirectory("odiff-e2e-").FullName;
    public string OutputDirectory => Path.Combine(Folder, "outputs");
    public string ClusterId { get; } = $"e2e-{Guid.NewGuid():N}"[..12];
    public int RedisPort { get; private set; }
    public string Redis => $"127.0.0.1:{RedisPort}";
    public int GatewayPort { get; private set; }
    public int WorkerHttpPort { get; private set; }
    public int CoordinatorHttpPort { get; private set; }
    public TimeSpan StartupTime { get; private set; }

    /// <summary>The connection flags every <c>odiff</c> cluster verb of the tests gets: the cluster is known to be up, so a
    /// client starting on a machine busy with the suite's other silos gets a minute, not the interactive default.</summary>
    public string[] ConnectionArguments => ["--redis", Redis, "--cluster-id", ClusterId, "--connect-timeout", "60"];

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        RedisPort = BuiltPrograms.FreePort();
        var redisServer = BuiltPrograms.FindExecutable("redis-server")
            ?? throw new InvalidOperationException("redis-server is not installed; tests/run.sh installs it (apt-get install redis-server).");
        var redisFolder = Directory.CreateDirectory(Path.Combine(Folder, "redis")).FullName;
        Directory.CreateDirectory(OutputDirectory);
        await StartRedisAsync(redisServer, redisFolder);

        var workerHttp = WorkerHttpPort = BuiltPrograms.FreePort();
        var coordinatorHttp = CoordinatorHttpPort = BuiltPrograms.FreePort();
        GatewayPort = BuiltPrograms.FreePort();
        var silos = new List<(ChildProcess Process, int Http, string Name)>();
        for (var i = 0; i < _workers; i++)
        {
            var http = i == 0 ? workerHttp : BuiltPrograms.FreePort();
            silos.Add((StartSilo("Worker", http, gatewayPort: 0, i), http, $"worker {i}"));
        }
        for (var i = 0; i < _coordinators; i++)
        {
            var http = i == 0 ? coordinatorHttp : BuiltPrograms.FreePort();
            silos.Add((StartSilo("Coordinator", http, i == 0 ? GatewayPort : BuiltPrograms.FreePort(), i), http, $"coordinator {i}"));
        }
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var (process, http, name) in silos)
            await WaitUntilAsync(process, () => IsReadyAsync(client, http), $"the {name} silo's /health/ready");
        StartupTime = clock.Elapsed;
    }

    /// <summary>The last lines of every process's output, for failure messages.</summary>
    public string Diagnostics() => string.Join(Environment.NewLine, _processes.Select(p => p.Tail(40)));

    public Task DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes)) process.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }

    private ChildProcess? _redis;

    private async Task StartRedisAsync(string redisServer, string redisFolder)
    {
        _redis = Track(ChildProcess.Start("redis-server", redisServer,
            ["--port", RedisPort.ToString(), "--bind", "127.0.0.1", "--appendonly", "yes", "--dir", redisFolder, "--save", "", "--daemonize", "no",
                .. _settings.RedisArguments]));
        await WaitUntilAsync(_redis, () => PingRedisAsync(RedisPort), "redis-server answers PING");
    }

    /// <summary>Stops Redis (SIGTERM: it flushes its AOF), waits for it to exit, and starts it again on the same port and folder.</summary>
    public async Task RestartRedisAsync()
    {
        _redis!.Terminate();
        await _redis.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await StartRedisAsync(BuiltPrograms.FindExecutable("redis-server")!, Path.Combine(Folder, "redis"));
    }

    /// <summary>Redis data loss: FLUSHALL removes the membership table, job records and reminders.</summary>
    public async Task FlushRedisAsync()
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", RedisPort);
        var stream = client.GetStream();
        await stream.WriteAsync("*1\r\n$8\r\nFLUSHALL\r\n"u8.ToArray());
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer);
        if (!Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+OK", StringComparison.Ordinal)) throw new InvalidOperationException("FLUSHALL was refused");
    }

    /// <summary>SIGTERM to the silo named <paramref name="siloName"/>: a graceful drain.</summary>
    public void Terminate(string siloName) => Silo(siloName).Terminate();

    /// <summary>Waits until the silo's process has exited.</summary>
    public Task WaitForExitAsync(string siloName, TimeSpan timeout) => Silo(siloName).WaitForExitAsync(timeout);

    private ChildProcess Silo(string siloName) =>
        _silos.TryGetValue(siloName, out var silo) ? silo : throw new ArgumentException($"no silo '{siloName}' (have {string.Join(", ", _silos.Keys)})");

    /// <summary>kill -9 of the silo named <paramref name="siloName"/> (as silos report it, e.g. in tile placements).</summary>
    public void Kill(string siloName)
    {
        Silo(siloName).Kill();
    }

    /// <summary>Starts one more silo of <paramref name="role"/> named <paramref name="name"/>, with its own ports and the
    /// cluster's environment (<see cref="ClusterSettings.SiloEnvironment"/> included) changed by <paramref name="change"/>
    /// (a null value removes a variable). It is not waited for.</summary>
    internal StartedSilo StartExtraSilo(string role, string name, Action<Dictionary<string, string?>> change)
    {
        var http = BuiltPrograms.FreePort();
        StartSilo(role, http, role == "Worker" ? 0 : BuiltPrograms.FreePort(), 0, name, change);
        return Silos[^1];
    }

    /// <summary>Whether /health/ready of the silo on <paramref name="httpPort"/> answers 200 now.</summary>
    internal static async Task<bool> IsReadyAsync(int httpPort)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return await IsReadyAsync(client, httpPort);
    }

    private ChildProcess StartSilo(string role, int httpPort, int gatewayPort, int index, string? siloName = null, Action<Dictionary<string, string?>>? change = null)
    {
        var name = siloName ?? (index == 0 ? $"e2e-{role.ToLowerInvariant()}" : $"e2e-{role.ToLowerInvariant()}-{index}");
        var siloPort = BuiltPrograms.FreePort();
        var environment = new Dictionary<string, string?>
        {
            ["OrleansDiffusion__Role"] = role,
            ["OrleansDiffusion__Devices"] = "cpu",
            ["OrleansDiffusion__Redis"] = Redis,
            ["OrleansDiffusion__ClusterId"] = ClusterId,
            ["OrleansDiffusion__ServiceId"] = "odiff",
            ["OrleansDiffusion__SiloPort"] = siloPort.ToString(),
            ["OrleansDiffusion__GatewayPort"] = gatewayPort.ToString(),
            ["OrleansDiffusion__HttpPort"] = httpPort.ToString(),
            ["OrleansDiffusion__AdvertisedAddress"] = "127.0.0.1",
            ["OrleansDiffusion__SiloName"] = name,
            ["OrleansDiffusion__ResumeCheckPeriod"] = "00:00:05",
            ["OrleansDiffusion__OutputDirectory"] = OutputDirectory,
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        foreach (var (key, value) in _settings.SiloEnvironment?.Invoke(role, index) ?? new Dictionary<string, string>()) environment[key] = value;
        change?.Invoke(environment);
        var variables = environment.Where(e => e.Value is not null).ToDictionary(e => e.Key, e => e.Value!);
        var process = Track(ChildProcess.Start($"silo {name}", "dotnet", [BuiltPrograms.Silo], variables, Folder));
        _silos[name] = process;
        Silos.Add(new StartedSilo(name, role, process, siloPort, gatewayPort, httpPort));
        return process;
    }

    private ChildProcess Track(ChildProcess process)
    {
        _processes.Add(process);
        return process;
    }

    /// <summary>Polls <paramref name="condition"/> every 500 ms until it holds; fails early if the process exits.</summary>
    private async Task WaitUntilAsync(ChildProcess process, Func<Task<bool>> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (process.HasExited)
                throw new InvalidOperationException($"{process.Name} exited with code {process.ExitCode} before '{what}'.{Environment.NewLine}{Diagnostics()}");
            if (deadline.Elapsed > StartTimeout)
                throw new TimeoutException($"'{what}' not reached within {StartTimeout.TotalSeconds:F0} s.{Environment.NewLine}{Diagnostics()}");
            await Task.Delay(500);
        }
    }

    private static async Task<bool> IsReadyAsync(HttpClient http, int port)
    {
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
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            // With requirepass, an unauthenticated PING is answered "-NOAUTH ...": the server is up all the same.
            var answer = Encoding.ASCII.GetString(buffer, 0, read);
            return answer.StartsWith("+PONG", StringComparison.Ordinal) || answer.StartsWith("-NOAUTH", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>Optional settings of a <see cref="RedisAndSilosFixture"/> of its own.</summary>
internal sealed record ClusterSettings
{
    public int Workers { get; init; } = 1;
    public int Coordinators { get; init; } = 1;

    /// <summary>Appended to redis-server's command line (e.g. <c>--requirepass</c>).</summary>
    public IReadOnlyList<string> RedisArguments { get; init; } = [];

    /// <summary>Extra environment of the silo with this role ("Worker" or "Coordinator") and index; wins over the defaults.</summary>
    public Func<string, int, IReadOnlyDictionary<string, string>>? SiloEnvironment { get; init; }
}

/// <summary>A silo process the fixture started, with the ports it was given (gateway 0: none).</summary>
internal sealed record StartedSilo(string Name, string Role, ChildProcess Process, int SiloPort, int GatewayPort, int HttpPort);

[CollectionDefinition(Name)]
public sealed class MultiProcessCluster : ICollectionFixture<RedisAndSilosFixture>
{
    public const string Name = "multi-process cluster";
}
