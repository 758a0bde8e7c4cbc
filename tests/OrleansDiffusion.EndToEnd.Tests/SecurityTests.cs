using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using Xunit.Abstractions;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>
/// A hardened multi-process cluster, as the production manifests configure one: mutual TLS between silos and for
/// gateway clients (certificates made by the test), every listener on 127.0.0.1, Redis with <c>requirepass</c>, and
/// <c>/metrics</c> behind a bearer token. One worker, one coordinator. A rogue CA's certificates are made too.
/// </summary>
public sealed class HardenedClusterFixture : IAsyncLifetime
{
    public const string RedisPassword = "e2e-redis-secret";
    public const string MetricsToken = "e2e-metrics-token";

    public HardenedClusterFixture()
    {
        Folder = Directory.CreateTempSubdirectory("odiff-security-").FullName;
        Authority = new TestCertificates(Path.Combine(Folder, "pki"), "cluster");
        Rogue = new TestCertificates(Path.Combine(Folder, "pki"), "rogue");
        ClientCertificate = Authority.Client("client");
        TokenFile = Path.Combine(Folder, "metrics-token");
        File.WriteAllText(TokenFile, MetricsToken + "\n");
        Cluster = new RedisAndSilosFixture(new ClusterSettings
        {
            RedisArguments = ["--requirepass", RedisPassword],
            SiloEnvironment = (role, index) => new Dictionary<string, string>(TestCertificates.SiloEnvironment(Authority.Silo($"{role}-{index}"), Authority.CaFile))
            {
                ["OrleansDiffusion__RedisPassword"] = RedisPassword,
                ["OrleansDiffusion__ListenAddress"] = "127.0.0.1",
                ["OrleansDiffusion__MetricsTokenFile"] = TokenFile,
            },
        });
    }

    public string Folder { get; }
    internal TestCertificates Authority { get; }
    internal TestCertificates Rogue { get; }
    public (string Certificate, string Key) ClientCertificate { get; }
    public string TokenFile { get; }
    public RedisAndSilosFixture Cluster { get; }

    /// <summary>SDK options that reach the cluster through Redis membership with the password and the client certificate.</summary>
    public DiffusionClientOptions ClientOptions() => new()
    {
        Redis = Cluster.Redis,
        RedisPassword = RedisPassword,
        ClusterId = Cluster.ClusterId,
        TlsCertificateFile = ClientCertificate.Certificate,
        TlsKeyFile = ClientCertificate.Key,
        TlsCaFile = Authority.CaFile,
    };

    public Task InitializeAsync() => Cluster.InitializeAsync();

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Authority.Dispose();
        Rogue.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class HardenedCluster : ICollectionFixture<HardenedClusterFixture>
{
    public const string Name = "hardened cluster";
}

/// <summary>Tiny jobs and condition-based waits shared by the security tests.</summary>
internal static class Hardened
{
    public static readonly JobSpec Tiny = new() { Prompt = "bricks", Width = 128, Height = 128, Steps = 3, Seed = 11, Tile = 64, Overlap = 16 };
    public static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(3);
    public static readonly TimeSpan Refusal = TimeSpan.FromSeconds(8);

    /// <summary>Waits until <paramref name="condition"/> holds (checked every 500 ms, at most <paramref name="cap"/>).</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan cap)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < cap)
        {
            if (await condition()) return true;
            await Task.Delay(500);
        }
        return await condition();
    }

    /// <summary>A plain Orleans client (no SDK checks) to the coordinator's gateway; <paramref name="configure"/> adds TLS.</summary>
    public static IHost RawClient(HardenedClusterFixture fixture, Action<IClientBuilder>? configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = fixture.Cluster.ClusterId;
                o.ServiceId = "odiff";
            });
            client.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, fixture.Cluster.GatewayPort));
            configure?.Invoke(client);
        });
        return builder.Build();
    }
}

/// <summary>Mutual TLS: a job completes for a client with a cluster certificate; clients without one, or with one from
/// another CA, are refused at the gateway; a silo with a rogue certificate cannot join.</summary>
[Collection(HardenedCluster.Name)]
public sealed class TlsClusterTests(HardenedClusterFixture fixture, ITestOutputHelper output) : IDisposable
{
    public void Dispose() => output.WriteLine(fixture.Cluster.Diagnostics());

    [Fact]
    public async Task A_client_with_a_cluster_certificate_runs_a_job_to_completion()
    {
        using var timeout = new CancellationTokenSource(Hardened.JobTimeout);
        await using var connection = await DiffusionConnection.ConnectAsync(fixture.ClientOptions(), TimeSpan.FromSeconds(60), cancellationToken: timeout.Token);
        var final = await connection.Client.RunAsync(Hardened.Tiny, cancellationToken: timeout.Token);
        Assert.True(final.State == JobState.Completed, $"{final.State}: {final.Error}");
        await using var png = await connection.Client.OpenResultAsync(final.JobId, timeout.Token);
        var signature = new byte[8];
        await png.ReadExactlyAsync(signature, timeout.Token);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, signature);
    }

    [Fact]
    public async Task A_client_without_a_certificate_is_refused()
    {
        var plain = new DiffusionClientOptions { Gateway = $"127.0.0.1:{fixture.Cluster.GatewayPort}", ClusterId = fixture.Cluster.ClusterId };
        await Assert.ThrowsAsync<ClusterUnavailableException>(() => DiffusionConnection.ConnectAsync(plain, Hardened.Refusal));
    }

    [Fact]
    public async Task A_client_with_a_certificate_from_another_CA_is_refused_by_the_gateway()
    {
        // The rogue client accepts any server (tests only), so nothing but the gateway's check of its certificate stops it.
        var rogue = fixture.Rogue.Client("rogue-client");
        using var rogueCertificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(rogue.Certificate, rogue.Key);
        using var rogueHost = Hardened.RawClient(fixture, client => client.UseTls(rogueCertificate, o => o.AllowAnyRemoteCertificate()));
        using (var refusal = new CancellationTokenSource(Hardened.Refusal))
            await Assert.ThrowsAnyAsync<Exception>(() => rogueHost.StartAsync(refusal.Token));

        // The same client with the cluster's client certificate gets in: the certificate made the difference.
        using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(fixture.ClientCertificate.Certificate, fixture.ClientCertificate.Key);
        using var host = Hardened.RawClient(fixture, client => client.UseTls(certificate, o => o.AllowAnyRemoteCertificate()));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await host.StartAsync(timeout.Token);
        var jobs = await host.Services.GetRequiredService<IClusterClient>().GetGrain<IJobRegistryGrain>(0).ListAsync(10);
        Assert.NotNull(jobs);
        await host.StopAsync(CancellationToken.None);

        // Through the SDK, a rogue certificate with the rogue CA is refused as well (the gateway's certificate is not
        // signed by that CA, and the gateway refuses the client's).
        var options = fixture.ClientOptions();
        options.Redis = null;
        options.Gateway = $"127.0.0.1:{fixture.Cluster.GatewayPort}";
        options.TlsCertificateFile = rogue.Certificate;
        options.TlsKeyFile = rogue.Key;
        options.TlsCaFile = fixture.Rogue.CaFile;
        await Assert.ThrowsAsync<ClusterUnavailableException>(() => DiffusionConnection.ConnectAsync(options, Hardened.Refusal));
    }

    [Fact]
    public async Task A_silo_with_a_rogue_certificate_cannot_join()
    {
        var rogue = fixture.Rogue.Silo("rogue-silo");
        var silo = fixture.Cluster.StartExtraSilo("Worker", "e2e-rogue", env =>
        {
            foreach (var (key, value) in TestCertificates.SiloEnvironment(rogue, fixture.Rogue.CaFile)) env[key] = value;
        });
        try
        {
            var everReady = false;
            // The TLS handshakes with the cluster's silos fail (each side refuses the other's certificate).
            var refused = await Hardened.EventuallyAsync(async () =>
            {
                everReady |= await RedisAndSilosFixture.IsReadyAsync(silo.HttpPort);
                return silo.Process.HasExited || silo.Process.Tail(400).Contains("Authentication failed", StringComparison.Ordinal);
            }, TimeSpan.FromMinutes(3));
            everReady |= !silo.Process.HasExited && await RedisAndSilosFixture.IsReadyAsync(silo.HttpPort);
            Assert.True(refused, $"no failed TLS handshake seen.{Environment.NewLine}{silo.Process.Tail()}");
            Assert.False(everReady, $"the rogue silo became ready.{Environment.NewLine}{silo.Process.Tail()}");
        }
        finally
        {
            silo.Process.Kill();
        }
        // The cluster is unaffected.
        Assert.True(await RedisAndSilosFixture.IsReadyAsync(fixture.Cluster.WorkerHttpPort));
        Assert.True(await RedisAndSilosFixture.IsReadyAsync(fixture.Cluster.CoordinatorHttpPort));
    }
}

/// <summary>Redis with <c>requirepass</c>: the silos (configured with the password) formed the cluster; the SDK and
/// <c>odiff</c> join with the password from configuration or the environment; without it a client is refused and a
/// silo never becomes ready.</summary>
[Collection(HardenedCluster.Name)]
public sealed class RedisPasswordTests(HardenedClusterFixture fixture, ITestOutputHelper output) : IDisposable
{
    public void Dispose() => output.WriteLine(fixture.Cluster.Diagnostics());

    [Fact]
    public async Task The_SDK_joins_with_the_password_and_is_refused_without_it()
    {
        await using (var connection = await DiffusionConnection.ConnectAsync(fixture.ClientOptions(), TimeSpan.FromSeconds(60)))
            Assert.NotNull(await connection.Client.ListJobsAsync(10));

        var options = fixture.ClientOptions();
        options.RedisPassword = null;
        var error = await Assert.ThrowsAsync<ClusterUnavailableException>(() => DiffusionConnection.ConnectAsync(options, Hardened.Refusal));
        Assert.Contains("Redis", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Odiff_reads_the_password_from_the_environment_and_is_refused_without_it()
    {
        string[] jobs = ["jobs", "--redis", fixture.Cluster.Redis, "--cluster-id", fixture.Cluster.ClusterId, "--connect-timeout", "30",
            "--tls-cert", fixture.ClientCertificate.Certificate, "--tls-key", fixture.ClientCertificate.Key, "--tls-ca", fixture.Authority.CaFile];
        using (var with = await ChildProcess.RunOdiffAsync(fixture.Folder, TimeSpan.FromMinutes(2), jobs,
            new Dictionary<string, string> { ["ODIFF_REDIS_PASSWORD"] = HardenedClusterFixture.RedisPassword }))
            Assert.True(with.ExitCode == 0, with.Tail());

        string[] quick = [.. jobs[..^8], "--connect-timeout", "5", .. jobs[^6..]];
        using (var without = await ChildProcess.RunOdiffAsync(fixture.Folder, TimeSpan.FromMinutes(2), quick))
        {
            Assert.Equal(1, without.ExitCode);
            Assert.Contains("Cannot connect", without.Stderr, StringComparison.Ordinal);
        }

        // On the command line the password is refused before anything connects.
        string[] onFlag = ["jobs", "--redis", $"{fixture.Cluster.Redis},password={HardenedClusterFixture.RedisPassword}", "--cluster-id", fixture.Cluster.ClusterId];
        using var flag = await ChildProcess.RunOdiffAsync(fixture.Folder, TimeSpan.FromMinutes(2), onFlag);
        Assert.Equal(2, flag.ExitCode);
        Assert.Contains("--redis: holds a password; set ODIFF_REDIS_PASSWORD", flag.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_without_the_password_never_becomes_ready()
    {
        var silo = fixture.Cluster.StartExtraSilo("Worker", "e2e-nopassword", env => env["OrleansDiffusion__RedisPassword"] = null);
        try
        {
            var everReady = false;
            var refused = await Hardened.EventuallyAsync(async () =>
            {
                everReady |= await RedisAndSilosFixture.IsReadyAsync(silo.HttpPort);
                return silo.Process.HasExited || silo.Process.Tail(400).Contains("NOAUTH", StringComparison.Ordinal);
            }, TimeSpan.FromMinutes(3));
            everReady |= !silo.Process.HasExited && await RedisAndSilosFixture.IsReadyAsync(silo.HttpPort);
            Assert.True(refused, $"no sign of Redis refusing the silo.{Environment.NewLine}{silo.Process.Tail()}");
            Assert.False(everReady, $"a silo without the Redis password became ready.{Environment.NewLine}{silo.Process.Tail()}");
        }
        finally
        {
            silo.Process.Kill();
        }
    }
}

/// <summary>With <c>ListenAddress=127.0.0.1</c>, every socket a silo listens on is bound to 127.0.0.1 (never 0.0.0.0
/// or [::]), read from /proc for the silo process; a worker listens on its silo and HTTP ports only (no gateway),
/// a coordinator on its silo, gateway and HTTP ports.</summary>
[Collection(HardenedCluster.Name)]
public sealed class ListenAddressTests(HardenedClusterFixture fixture)
{
    [Fact]
    public void Silos_listen_only_on_the_configured_address_and_ports()
    {
        Assert.True(OperatingSystem.IsLinux(), "reads /proc");
        var silos = fixture.Cluster.Silos.Take(2).ToList();
        Assert.Equal(["Worker", "Coordinator"], silos.Select(s => s.Role));
        foreach (var silo in silos)
        {
            var listening = ListeningSockets(silo.Process.Id);
            Assert.All(listening, socket => Assert.True(socket.Address == "127.0.0.1", $"{silo.Name} listens on {socket.Address}:{socket.Port}"));
            int[] expected = silo.Role == "Worker" ? [silo.SiloPort, silo.HttpPort] : [silo.SiloPort, silo.GatewayPort, silo.HttpPort];
            Assert.Equal(expected.Order(), listening.Select(s => s.Port).Order());
        }
    }

    /// <summary>The TCP sockets in LISTEN state that <paramref name="pid"/> holds, from /proc/net/tcp and tcp6 and the
    /// process's descriptors (socket:[inode]).</summary>
    private static List<(string Address, int Port)> ListeningSockets(int pid)
    {
        var inodes = new HashSet<string>();
        foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal)) inodes.Add(target[8..^1]);
            }
            catch (IOException)
            {
            }
        }
        var sockets = new List<(string, int)>();
        foreach (var table in new[] { $"/proc/{pid}/net/tcp", $"/proc/{pid}/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields[3] != "0A" || !inodes.Contains(fields[9])) continue; // 0A: LISTEN
                var local = fields[1].Split(':');
                sockets.Add((Address(local[0]), int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            }
        }
        return sockets;
    }

    /// <summary>/proc's hex address: IPv4 as one little-endian word, IPv6 as four; an IPv4-mapped IPv6 address as IPv4.</summary>
    private static string Address(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        for (var word = 0; word < bytes.Length; word += 4) Array.Reverse(bytes, word, 4);
        var address = new IPAddress(bytes);
        return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }
}

/// <summary>/metrics asks for the bearer token; the health endpoints stay open for probes.</summary>
[Collection(HardenedCluster.Name)]
public sealed class MetricsTokenTests(HardenedClusterFixture fixture)
{
    [Fact]
    public async Task Metrics_answer_401_without_the_token_and_200_with_it_while_health_stays_open()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var port in new[] { fixture.Cluster.WorkerHttpPort, fixture.Cluster.CoordinatorHttpPort })
        {
            var metrics = new Uri($"http://127.0.0.1:{port}/metrics");
            using (var anonymous = await http.GetAsync(metrics))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
                Assert.Contains("Bearer", anonymous.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
                Assert.DoesNotContain("odiff_", await anonymous.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            foreach (var wrong in new[] { "wrong", HardenedClusterFixture.MetricsToken + "x", HardenedClusterFixture.MetricsToken[..^1] })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, metrics) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", wrong) } };
                using var refused = await http.SendAsync(request);
                Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            }
            using (var request = new HttpRequestMessage(HttpMethod.Get, metrics) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", HardenedClusterFixture.MetricsToken) } })
            using (var scrape = await http.SendAsync(request))
            {
                Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
                Assert.Contains("# TYPE ", await scrape.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            foreach (var health in new[] { "/health/ready", "/health/live", "/health/startup" })
            {
                using var open = await http.GetAsync(new Uri($"http://127.0.0.1:{port}{health}"));
                Assert.Equal(HttpStatusCode.OK, open.StatusCode);
            }
        }
    }
}

/// <summary>Exemplars are checked on the coordinator silo, whatever the client: a raw Orleans client (no SDK checks)
/// sending a PNG over the cap, or bytes that are not a PNG, gets an <see cref="InvalidJobException"/> naming
/// "exemplar", nothing is recorded, and a job running on the same worker meanwhile completes.</summary>
[Collection(HardenedCluster.Name)]
public sealed class ExemplarRefusalTests(HardenedClusterFixture fixture, ITestOutputHelper output) : IDisposable
{
    public void Dispose() => output.WriteLine(fixture.Cluster.Diagnostics());

    [Fact]
    public async Task Oversized_or_non_png_exemplars_are_refused_on_the_silo_and_a_running_job_completes()
    {
        using var timeout = new CancellationTokenSource(Hardened.JobTimeout);
        // The SDK's host: DiffusionClient for the running job, and the plain IClusterClient it wraps for raw grain calls
        // (DiffusionClient would refuse these exemplars itself, before sending).
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var options = fixture.ClientOptions();
        builder.UseDiffusionClient(o =>
        {
            o.Redis = options.Redis;
            o.RedisPassword = options.RedisPassword;
            o.ClusterId = options.ClusterId;
            o.TlsCertificateFile = options.TlsCertificateFile;
            o.TlsKeyFile = options.TlsKeyFile;
            o.TlsCaFile = options.TlsCaFile;
        });
        using var host = builder.Build();
        await host.StartAsync(timeout.Token);
        var client = host.Services.GetRequiredService<DiffusionClient>();
        var grains = host.Services.GetRequiredService<IClusterClient>();
        var running = await client.SubmitAsync(Hardened.Tiny with { Steps = 8, Seed = 12 }, cancellationToken: timeout.Token);

        var huge = new byte[ExemplarImage.MaxBytes + 1];
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(huge, 0);
        var notPng = "GIF89a not a png at all"u8.ToArray();
        foreach (var (name, bytes) in new[] { ("huge.png", huge), ("fake.png", notPng) })
        {
            var jobId = JobIds.New(DateTimeOffset.UtcNow);
            var spec = Hardened.Tiny with { Exemplar = new ExemplarImage(name, bytes) };
            var refused = await Assert.ThrowsAsync<InvalidJobException>(() => grains.GetGrain<ICoordinatorGrain>(jobId).SubmitAsync(spec));
            Assert.Contains("exemplar", refused.Message, StringComparison.Ordinal);
            Assert.Null(await client.GetStatusAsync(jobId, timeout.Token));
        }

        JobStatus? final = null;
        await foreach (var status in client.WatchAsync(running, timeout.Token)) final = status;
        Assert.True(final is { State: JobState.Completed }, $"{final?.State}: {final?.Error}");
        await host.StopAsync(CancellationToken.None);
    }
}
