using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;
using OpenTelemetry.Metrics;
using OrleansDiffusion.Grains;

namespace OrleansDiffusion.Hosting;

/// <summary>The silo's HTTP side: health endpoints for Kubernetes probes and Prometheus metrics.</summary>
public static class DiffusionWebExtensions
{
    private const string StartupTag = "startup";
    private const string ReadyTag = "ready";

    /// <summary>Orleans silo with this product's role set-up, host shutdown timeout, health checks and metrics.</summary>
    public static WebApplicationBuilder AddOrleansDiffusionSilo(this WebApplicationBuilder builder, DiffusionSiloOptions options)
    {
        DiffusionSiloOptionsValidator.EnsureValid(options);
        builder.WebHost.UseUrls($"http://{HttpHost(options)}:{options.HttpPort}");
        // Shorter than the pod's grace period (150 s) so deactivation finishes before SIGKILL.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(120));
        Console.Error.WriteLine($"odiff silo: {OrleansDiffusion.Diffusion.TorchThreads.Configure(options.IntraOpThreads)} compute thread(s) (libtorch intra-op, attention band sync)");
        Console.Error.WriteLine($"odiff silo: malloc mmap threshold {GlibcHeap.Configure(options.MallocMmapThreshold)}");
        if (options.HostsTiles)
        {
            var decode = new AcceleratorOptions { DecodeMemoryBytes = options.DecodeMemoryBytes };
            Console.Error.WriteLine($"odiff silo: VAE decode budget {string.Join(", ", options.DeviceList.Select(d => $"{d} {decode.DecodeMemoryBytesOf(d) >> 20} MiB"))}");
        }
        builder.UseOrleans(silo => silo.AddOrleansDiffusion(options));
        builder.Services.AddSingleton<SiloHealth>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloHealth>());
        builder.Services.AddHealthChecks()
            .AddCheck<SiloStartedCheck>("silo-started", tags: [StartupTag])
            .AddCheck<SiloReadyCheck>("silo-ready", tags: [ReadyTag])
            .AddCheck<MembershipCheck>("cluster-membership", tags: [ReadyTag]);
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(MetricNames.Meter, "Microsoft.Orleans")
            .AddPrometheusExporter());
        return builder;
    }

    private static string HttpHost(DiffusionSiloOptions options) => options.ListenAddress switch
    {
        { Length: > 0 } address when System.Net.IPAddress.Parse(address).AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 => $"[{address}]",
        { Length: > 0 } address => address,
        _ => string.IsNullOrWhiteSpace(options.Redis) ? "127.0.0.1" : "0.0.0.0",
    };

    /// <summary>/health/startup, /health/ready, /health/live (this process only, always open) and /metrics (behind the
    /// bearer token of <see cref="DiffusionSiloOptions.MetricsTokenFile"/> when set).</summary>
    public static IEndpointRouteBuilder MapOrleansDiffusionEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health/startup", new HealthCheckOptions { Predicate = c => c.Tags.Contains(StartupTag) });
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag) });
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        var metricsToken = endpoints.ServiceProvider.GetService<Microsoft.Extensions.Options.IOptions<DiffusionSiloOptions>>()?.Value.MetricsTokenFile;
        endpoints.MapPrometheusScrapingEndpoint(null, null, MetricsToken.Guard(metricsToken), null);
        return endpoints;
    }
}
