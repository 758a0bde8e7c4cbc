using System.Net;
using Microsoft.Extensions.Options;

namespace OrleansDiffusion.Hosting;

/// <summary>Every rule of <see cref="DiffusionSiloOptions"/>, each failure naming its configuration key.</summary>
public sealed class DiffusionSiloOptionsValidator : IValidateOptions<DiffusionSiloOptions>
{
    public ValidateOptionsResult Validate(string? name, DiffusionSiloOptions options)
    {
        var failures = new List<string>();
        void Fail(string key, string message) => failures.Add($"{DiffusionSiloOptions.Section}:{key}: {message}");

        if (!Enum.IsDefined(options.Role)) Fail("Role", "must be Worker, Coordinator or All");
        foreach (var device in options.DeviceList)
            if (device != "cpu" && !(device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device[5..], out var n) && n >= 0))
                Fail("Devices", $"'{device}' is not cpu or cuda:N");
        if (options.DeviceList.Distinct().Count() != options.DeviceList.Count) Fail("Devices", "lists a device twice");
        if (string.IsNullOrWhiteSpace(options.ClusterId)) Fail("ClusterId", "required");
        if (string.IsNullOrWhiteSpace(options.ServiceId)) Fail("ServiceId", "required");
        if (options.SiloPort is < 1 or > 65535) Fail("SiloPort", "must be 1..65535");
        if (options.GatewayPort is < 0 or > 65535) Fail("GatewayPort", "must be 0..65535");
        if (options.HttpPort is < 0 or > 65535) Fail("HttpPort", "must be 0..65535");
        if (options.HostsCoordinators && options.GatewayPort == 0) Fail("GatewayPort", $"a {options.Role} silo serves clients and needs a gateway port");
        if (!string.IsNullOrWhiteSpace(options.PrimarySilo) && !IPEndPoint.TryParse(options.PrimarySilo, out _))
            Fail("PrimarySilo", $"'{options.PrimarySilo}' is not host:port");
        if (!string.IsNullOrWhiteSpace(options.AdvertisedAddress) && !IPAddress.TryParse(options.AdvertisedAddress, out _))
            Fail("AdvertisedAddress", $"'{options.AdvertisedAddress}' is not an IP address");
        if (!string.IsNullOrWhiteSpace(options.ListenAddress) && !IPAddress.TryParse(options.ListenAddress, out _))
            Fail("ListenAddress", $"'{options.ListenAddress}' is not an IP address");
        if (string.IsNullOrWhiteSpace(options.OutputDirectory)) Fail("OutputDirectory", "required");
        if (options.CheckpointEvery < 0) Fail("CheckpointEvery", "must be 0 (no checkpoints) or more");
        if (options.MaxQueuedJobs < 1) Fail("MaxQueuedJobs", "must be at least 1");
        if (options.BatchGatherWindow < TimeSpan.Zero) Fail("BatchGatherWindow", "must be 0 or more");
        if (options.ModelCacheBytes < 0) Fail("ModelCacheBytes", "must be 0 or more");
        if (options.DecodeMemoryBytes < 0) Fail("DecodeMemoryBytes", "must be 0 (automatic) or more");
        if (options.IntraOpThreads < 0) Fail("IntraOpThreads", "must be 0 (the CPU quota) or more");
        if (options.ResponseTimeout < TimeSpan.FromMilliseconds(300)) Fail("ResponseTimeout", "must be at least 0.3 s");
        if (options.ResumeCheckPeriod < TimeSpan.FromSeconds(1)) Fail("ResumeCheckPeriod", "must be at least 1 s");
        if (options.WorkerWaitTimeout < TimeSpan.FromSeconds(1)) Fail("WorkerWaitTimeout", "must be at least 1 s");
        if (options.HostMessageBytes < 1) Fail("HostMessageBytes", "must be at least 1");
        // glibc caps the threshold at 32 MiB (HEAP_MAX / 2 on 64-bit) and refuses larger values.
        if (options.MallocMmapThreshold is < 0 or > 32 << 20) Fail("MallocMmapThreshold", "must be 0 (glibc's default) or at most 33554432 bytes");
        if (options.RedisPassword is not null && string.IsNullOrWhiteSpace(options.Redis)) Fail("RedisPassword", "set without Redis");
        SiloTls.Validate(options.Tls, Fail);
        MetricsToken.Validate(options.MetricsTokenFile, Fail);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> listing every failure.</summary>
    public static void EnsureValid(DiffusionSiloOptions options)
    {
        var result = new DiffusionSiloOptionsValidator().Validate(null, options);
        if (result.Failed) throw new OptionsValidationException(DiffusionSiloOptions.Section, typeof(DiffusionSiloOptions), result.Failures);
    }
}
