using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Metadata;
using OrleansDiffusion.Grains;

namespace OrleansDiffusion.Hosting;

/// <summary>Silo set-up in pairs: the <see cref="ISiloBuilder"/> call configures Orleans and delegates the
/// application services to the <see cref="IServiceCollection"/> call.</summary>
public static class DiffusionHostingExtensions
{
    /// <summary>Clustering, job records and reminders (Redis, or localhost and memory for one machine), endpoints,
    /// the silo's role, devices, placement and the client call filter. Validates <paramref name="options"/> once.</summary>
    public static ISiloBuilder AddOrleansDiffusion(this ISiloBuilder silo, DiffusionSiloOptions options)
    {
        DiffusionSiloOptionsValidator.EnsureValid(options);
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        silo.Configure<SiloOptions>(o => o.SiloName = SiloName(options));
        var gateway = options.HostsCoordinators ? options.GatewayPort : 0;
        if (!string.IsNullOrWhiteSpace(options.Redis))
        {
            var redis = RedisConnection.Options(options.Redis, options.RedisUser, options.RedisPassword, options.RedisTls);
            silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
            silo.AddRedisGrainStorage(StorageNames.Jobs, o => o.ConfigurationOptions = redis);
            silo.UseRedisReminderService(o => o.ConfigurationOptions = redis);
            var advertised = AdvertisedAddress(options);
            var listen = string.IsNullOrWhiteSpace(options.ListenAddress) ? IPAddress.Any : IPAddress.Parse(options.ListenAddress);
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = advertised;
                o.SiloPort = options.SiloPort;
                o.GatewayPort = gateway;
                o.SiloListeningEndpoint = new IPEndPoint(listen, options.SiloPort);
                o.GatewayListeningEndpoint = gateway == 0 ? null : new IPEndPoint(listen, gateway);
            });
        }
        else
        {
            var primary = string.IsNullOrWhiteSpace(options.PrimarySilo) ? null : IPEndPoint.Parse(options.PrimarySilo);
            silo.UseLocalhostClustering(options.SiloPort, gateway, primary, options.ServiceId, options.ClusterId);
            silo.AddOrleansDiffusionMemoryState();
        }
        if (options.Tls.Enabled) silo.UseDiffusionTls(options.Tls);
        return silo.AddOrleansDiffusionGrains(options);
    }

    /// <summary>Job records and reminders in memory: one machine, or a test cluster.</summary>
    public static ISiloBuilder AddOrleansDiffusionMemoryState(this ISiloBuilder silo)
    {
        silo.AddMemoryGrainStorage(StorageNames.Jobs);
        return silo.UseInMemoryReminderService();
    }

    /// <summary>Everything but clustering, endpoints and state providers: the role's grains, devices, placement, the
    /// client call filter, reminder period and response timeout (what a test cluster host adds to its own silos).</summary>
    public static ISiloBuilder AddOrleansDiffusionGrains(this ISiloBuilder silo, DiffusionSiloOptions options)
    {
        // Lowered only when asked for (tests of resume); Orleans warns about high-frequency reminders otherwise.
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromTicks(Math.Min(o.MinimumReminderPeriod.Ticks, options.ResumeCheckPeriod.Ticks)));
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = options.ResponseTimeout);
        silo.AddIncomingGrainCallFilter<ClusterInternalCallFilter>();
        silo.Services.AddOrleansDiffusion(options);
        return silo;
    }

    /// <summary>Grain classes this role hosts, the device executors of an accelerator silo, placement, output and
    /// checkpoint stores, job options, metrics.</summary>
    public static IServiceCollection AddOrleansDiffusion(this IServiceCollection services, DiffusionSiloOptions options)
    {
        services.AddMetrics();
        services.AddSingleton<IValidateOptions<DiffusionSiloOptions>, DiffusionSiloOptionsValidator>();
        services.AddOptions<DiffusionSiloOptions>().Configure(o => Copy(options, o)).ValidateOnStart();
        services.Configure<AcceleratorOptions>(o =>
        {
            o.Devices.Clear();
            foreach (var device in options.DeviceList) o.Devices.Add(device);
            o.HalfPrecision = options.HalfPrecision;
            o.ModelCacheBytes = options.ModelCacheBytes;
            o.DecodeMemoryBytes = options.DecodeMemoryBytes;
            o.BatchGatherWindow = options.BatchGatherWindow;
            o.BenchmarkTileMilliseconds = options.BenchmarkTileMilliseconds;
        });
        services.Configure<OutputStoreOptions>(o =>
        {
            o.Directory = options.OutputDirectory;
            o.CheckpointDirectory = options.CheckpointDirectory;
            o.ModelsDirectory = options.ModelsDirectory;
        });
        services.Configure<JobOptions>(o =>
        {
            o.CheckpointEvery = options.CheckpointEvery;
            o.MaxQueuedJobs = options.MaxQueuedJobs;
            o.ResumeCheckPeriod = options.ResumeCheckPeriod;
            o.WorkerWaitTimeout = options.WorkerWaitTimeout;
            o.PlanForSimulatedDenoiser = options.BenchmarkTileMilliseconds > 0;
            o.HostMessageBytes = options.HostMessageBytes;
            o.TileCallWait = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(10).Ticks, options.ResponseTimeout.Ticks / 3));
        });
        services.AddSingleton<OutputStore>();
        services.AddSingleton<CheckpointStore>();
        services.AddPlacementDirector<AcceleratorPlacement, AcceleratorPlacementDirector>();
        services.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
        if (options.HostsTiles) services.AddSingleton<DeviceExecutorPool>();
        services.AddSingleton(sp => new DiffusionMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), SiloName(options),
            options.HostsTiles ? sp.GetRequiredService<DeviceExecutorPool>() : null));
        // Heterogeneous silos: a grain class is placed only on silos that register it.
        services.PostConfigure<GrainTypeOptions>(o =>
        {
            if (!options.HostsTiles)
            {
                o.Classes.Remove(typeof(TileGrain));
                o.Classes.Remove(typeof(TileHostGrain));
                o.Classes.Remove(typeof(DecodeTileGrain));
            }
            if (!options.HostsCoordinators)
            {
                o.Classes.Remove(typeof(CoordinatorGrain));
                o.Classes.Remove(typeof(JobRegistryGrain));
            }
        });
        return services;
    }

    public static string SiloName(DiffusionSiloOptions options) =>
        options.SiloName ?? Environment.GetEnvironmentVariable("POD_NAME") ?? $"{Environment.MachineName}-{options.SiloPort}";

    private static IPAddress AdvertisedAddress(DiffusionSiloOptions options)
    {
        var address = options.AdvertisedAddress ?? Environment.GetEnvironmentVariable("POD_IP");
        return string.IsNullOrWhiteSpace(address) ? IPAddress.Loopback : IPAddress.Parse(address);
    }

    private static void Copy(DiffusionSiloOptions from, DiffusionSiloOptions to)
    {
        foreach (var property in typeof(DiffusionSiloOptions).GetProperties().Where(p => p.CanWrite))
            property.SetValue(to, property.GetValue(from));
    }
}
