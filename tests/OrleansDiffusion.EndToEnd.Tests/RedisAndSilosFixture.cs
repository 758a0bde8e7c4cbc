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

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly List<ChildProcess> _processes = [];
    private readonly HashSet<int> _ports = [];
    private readonly Dictionary<string, ChildProcess> _silos = [];

    /// <summary>One worker and one coordinator silo (the shared collection fixture).</summary>
    public RedisAndSilosFixture()
    {
    }

    /// <summary>A cluster of its own, for tests that kill silos.</summary>
    internal RedisAndSilosFixture(int workers, int coordinators) => (_workers, _coordinators) = (workers, coordinators);

    public string Folder { get; } = Directory.CreateTempSubdirectory("odiff-e2e-").FullName;
    public string OutputDirectory => Path.Combine(Folder, "outputs");
    public string ClusterId { get; } = $"e2e-{Guid.NewGuid():N}"[..12];
    public int RedisPort { get; private set; }
    public string Redis => $"127.0.0.1:{RedisPort}";
    public int GatewayPort { get; private set; }
    public int WorkerHttpPort { get; private set; }
    public int CoordinatorHttpPort { get; private set; }
    public TimeSpan StartupTime { get; private set; }

    /// <summary>The connection flags every <c>odiff</c> cluster verb of the tests gets.</summary>
    public string[] ConnectionArguments => ["--redis", Redis, "--cluster-id", ClusterId];

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        RedisPort = NextPort();
        var redisServer = BuiltPrograms.FindExecutable("redis-server")
            ?? throw new InvalidOperationException("redis-server is not installed; tests/run.sh installs it (apt-get install redis-server).");
        var redisFolder = Directory.CreateDirectory(Path.Combine(Folder, "redis")).FullName;
        Directory.CreateDirectory(OutputDirectory);
        await StartRedisAsync(redisServer, redisFolder);

        var workerHttp = WorkerHttpPort = NextPort();
        var coordinatorHttp = CoordinatorHttpPort = NextPort();
        GatewayPort = NextPort();
        var silos = new List<(ChildProcess Process, int Http, string Name)>();
        for (var i = 0; i < _workers; i++)
        {
            var http = i == 0 ? workerHttp : NextPort();
            silos.Add((StartSilo("Worker", http, gatewayPort: 0, i), http, $"worker {i}"));
        }
        for (var i = 0; i < _coordinators; i++)
        {
            var http = i == 0 ? coordinatorHttp : NextPort();
            silos.Add((StartSilo("Coordinator", http, i == 0 ? GatewayPort : NextPort(), i), http, $"coordinator {i}"));
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
            ["--port", RedisPort.ToString(), "--bind", "127.0.0.1", "--appendonly", "yes", "--dir", redisFolder, "--save", "", "--daemonize", "no"]));
        await WaitUntilAsync(_redis, () => PingRedisAsync(RedisPort), "redis-server answers PING");
    }

    /// <summary>Stops Redis (SIGTERM: it flushes its AOF), waits for it to exit, and starts it again on the same port and folder.</summary>
    public async Task RestartRedisAsync()
    {
        _redis!.Terminate();
        await _redis.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await StartRedisAsync(BuiltPrograms.FindExecutable("redis-server")!, Path.Combine(Folder, "redis"));
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

    private ChildProcess StartSilo(string role, int httpPort, int gatewayPort, int index)
    {
        var name = index == 0 ? $"e2e-{role.ToLowerInvariant()}" : $"e2e-{role.ToLowerInvariant()}-{index}";
        var environment = new Dictionary<string, string>
        {
            ["OrleansDiffusion__Role"] = role,
            ["OrleansDiffusion__Devices"] = "cpu",
            ["OrleansDiffusion__Redis"] = Redis,
            ["OrleansDiffusion__ClusterId"] = ClusterId,
            ["OrleansDiffusion__ServiceId"] = "odiff",
            ["OrleansDiffusion__SiloPort"] = NextPort().ToString(),
            ["OrleansDiffusion__GatewayPort"] = gatewayPort.ToString(),
            ["OrleansDiffusion__HttpPort"] = httpPort.ToString(),
            ["OrleansDiffusion__AdvertisedAddress"] = "127.0.0.1",
            ["OrleansDiffusion__SiloName"] = name,
            ["OrleansDiffusion__ResumeCheckPeriod"] = "00:00:05",
            ["OrleansDiffusion__OutputDirectory"] = OutputDirectory,
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        var process = Track(ChildProcess.Start($"silo {name}", "dotnet", [BuiltPrograms.Silo], environment, Folder));
        _silos[name] = process;
        return process;
    }

    /// <summary>A free loopback port not handed out before by this fixture.</summary>
    private int NextPort()
    {
        int port;
        do port = BuiltPrograms.FreePort();
        while (!_ports.Add(port));
        return port;
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
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }
}

[CollectionDefinition(Name)]
public sealed class MultiProcessCluster : ICollectionFixture<RedisAndSilosFixture>
{
    public const string Name = "multi-process cluster";
}
