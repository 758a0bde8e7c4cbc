using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansDiffusion.Diffusion;

namespace OrleansDiffusion.Hosting;

/// <summary>
/// A local Orleans cluster of several silos in this process (localhost clustering on free loopback ports):
/// what <c>odiff generate --silos N</c> and the cluster tests run on.
/// </summary>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly List<IHost> _silos = [];

    private EmbeddedCluster()
    {
    }

    public IReadOnlyList<IHost> Silos => _silos;

    /// <summary>A client inside the first silo (it hosts coordinators in every embedded layout).</summary>
    public IClusterClient Client => _silos[0].Services.GetRequiredService<IClusterClient>();

    /// <param name="roles">one role per silo; the first must host coordinators.</param>
    /// <param name="configure">adjusts each silo's options (e.g. a model store, checkpoint interval).</param>
    /// <param name="configureLogging">the silos' logging; default: console on stderr, warnings and above.</param>
    public static async Task<EmbeddedCluster> StartAsync(IReadOnlyList<SiloRole> roles, string outputDirectory,
        Action<DiffusionSiloOptions>? configure = null, Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        if (roles.Count == 0 || roles[0] == SiloRole.Worker) throw new ArgumentException("the first silo must host coordinators", nameof(roles));
        // One thread count whatever the number of silos, so 1..N silos compute the same numbers.
        TorchThreads.Configure();
        var cluster = new EmbeddedCluster();
        var clusterId = $"odiff-embedded-{Guid.NewGuid():N}";
        IPEndPoint? primary = null;
        try
        {
            for (var i = 0; i < roles.Count; i++)
            {
                var options = new DiffusionSiloOptions
                {
                    Role = roles[i],
                    ClusterId = clusterId,
                    ServiceId = clusterId,
                    SiloPort = LoopbackPorts.Next(),
                    GatewayPort = roles[i] == SiloRole.Worker ? 0 : LoopbackPorts.Next(),
                    PrimarySilo = primary?.ToString(),
                    SiloName = $"silo{i}",
                    OutputDirectory = outputDirectory,
                };
                configure?.Invoke(options);
                primary ??= new IPEndPoint(IPAddress.Loopback, options.SiloPort);
                var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
                (configureLogging ?? StandardErrorWarnings)(builder.Logging);
                builder.UseOrleans(silo => silo.AddOrleansDiffusion(options));
                var host = builder.Build();
                cluster._silos.Add(host);
                await host.StartAsync(cancellationToken);
            }
            await cluster.WaitForConvergenceAsync(cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private static void StandardErrorWarnings(ILoggingBuilder logging) =>
        logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);

    /// <summary>A silo that has started may not yet know the others' grain types; placing a tile then fails
    /// ("no implementation") or lands on too few silos. Wait until every silo's manifest lists every silo.</summary>
    private async Task WaitForConvergenceAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!_silos.All(s => s.Services.GetRequiredService<IClusterManifestProvider>().Current.Silos.Count == _silos.Count))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the {_silos.Count} embedded silos did not see each other within 60 s");
            await Task.Delay(50, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _silos.Count - 1; i >= 0; i--)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _silos[i].StopAsync(timeout.Token);
            }
            finally
            {
                _silos[i].Dispose();
            }
        }
        _silos.Clear();
    }
}
