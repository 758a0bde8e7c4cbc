using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Metadata;
using OrleansDiffusion.Grains;
using StackExchange.Redis;

namespace OrleansDiffusion.Hosting;

/// <summary>Silo set-up in pairs: the <see cref="ISiloBuilder"/> call configures Orleans and delegates the
/// application services to the <see cref="IServiceCollection"/> call.</summary>
public static class DiffusionHostingExtensions
{
    /// <summary>Clustering (Redis, or localhost for one machine), endpoints, the silo's role, devices and placement.</summary>
    public static ISiloBuilder AddOrleansDiffusion(this ISiloBuilder silo, DiffusionSiloOptions options)
    {
        Validate(options);
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        silo.Configure<SiloOptions>(o => o.SiloName = SiloName(options));
        var gateway = options.HostsCoordinators ? options.GatewayPort : 0;
        if (!string.IsNullOrWhiteSpace(options.Redis))
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(options.Redis));
            silo.ConfigureEndpoints(AdvertisedAddress(options), options.SiloPort, gateway, listenOnAnyHostAddress: true);
        }
        else
        {
            var primary = string.IsNullOrWhiteSpace(options.PrimarySilo) ? null : IPEndPoint.Parse(options.PrimarySilo);
            silo.UseLocalhostClustering(options.SiloPort, gateway, primary, options.ServiceId, options.ClusterId);
        }
        silo.Services.AddOrleansDiffusion(options);
        return silo;
    }

    /// <summary>Grain classes this role hosts, the device executors of an accelerator silo, placement, output store, metrics.</summary>
    public static IServiceCollection AddOrleansDiffusion(this IServiceCollection services, DiffusionSiloOptions options)
    {
        services.AddMetrics();
        services.Configure<AcceleratorOptions>(o =>
        {
            o.Devices.Clear();
            foreach (var device in options.DeviceList) o.Devices.Add(device);
            o.HalfPrecision = options.HalfPrecision;
        });
        services.Configure<OutputStoreOptions>(o => o.Directory = options.OutputDirectory);
        services.AddPlacementDirector<AcceleratorPlacement, AcceleratorPlacementDirector>();
        if (options.HostsTiles) services.AddSingleton<DeviceExecutorPool>();
        services.AddSingleton(sp => new DiffusionMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), SiloName(options),
            options.HostsTiles ? sp.GetRequiredService<DeviceExecutorPool>() : null));
        // Heterogeneous silos: a grain class is placed only on silos that register it.
        services.PostConfigure<GrainTypeOptions>(o =>
        {
            if (!options.HostsTiles) o.Classes.Remove(typeof(TileGrain));
            if (!options.HostsCoordinators)
            {
                o.Classes.Remove(typeof(CoordinatorGrain));
                o.Classes.Remove(typeof(JobRegistryGrain));
            }
        });
        return services;
    }

    public static ConfigurationOptions RedisOptions(string connection)
    {
        var configuration = ConfigurationOptions.Parse(connection);
        configuration.AbortOnConnectFail = false;
        return configuration;
    }

    public static string SiloName(DiffusionSiloOptions options) =>
        options.SiloName ?? Environment.GetEnvironmentVariable("POD_NAME") ?? $"{Environment.MachineName}-{options.SiloPort}";

    private static IPAddress AdvertisedAddress(DiffusionSiloOptions options)
    {
        var address = options.AdvertisedAddress ?? Environment.GetEnvironmentVariable("POD_IP");
        return string.IsNullOrWhiteSpace(address) ? IPAddress.Loopback : IPAddress.Parse(address);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> naming the bad key.</summary>
    public static void Validate(DiffusionSiloOptions options)
    {
        var failures = new List<string>();
        var section = DiffusionSiloOptions.Section;
        if (options.HostsTiles && options.DeviceList.Count == 0) failures.Add($"{section}:Devices: a {options.Role} silo needs at least one device");
        foreach (var device in options.DeviceList)
            if (device != "cpu" && !(device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device[5..], out var n) && n >= 0))
                failures.Add($"{section}:Devices: '{device}' is not cpu or cuda:N");
        if (options.SiloPort is < 1 or > 65535) failures.Add($"{section}:SiloPort: must be 1..65535");
        if (options.GatewayPort is < 0 or > 65535) failures.Add($"{section}:GatewayPort: must be 0..65535");
        if (options.HostsCoordinators && options.GatewayPort == 0) failures.Add($"{section}:GatewayPort: a {options.Role} silo serves clients and needs a gateway port");
        if (!string.IsNullOrWhiteSpace(options.PrimarySilo) && !IPEndPoint.TryParse(options.PrimarySilo, out _))
            failures.Add($"{section}:PrimarySilo: '{options.PrimarySilo}' is not host:port");
        if (!string.IsNullOrWhiteSpace(options.AdvertisedAddress) && !IPAddress.TryParse(options.AdvertisedAddress, out _))
            failures.Add($"{section}:AdvertisedAddress: '{options.AdvertisedAddress}' is not an IP address");
        if (string.IsNullOrWhiteSpace(options.OutputDirectory)) failures.Add($"{section}:OutputDirectory: required");
        if (failures.Count > 0) throw new OptionsValidationException(section, typeof(DiffusionSiloOptions), failures);
    }
}
