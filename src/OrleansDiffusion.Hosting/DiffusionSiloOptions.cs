using System.ComponentModel.DataAnnotations;

namespace OrleansDiffusion.Hosting;

/// <summary>What a silo hosts.</summary>
public enum SiloRole
{
    /// <summary>Accelerator silo: tile grains on its devices.</summary>
    Worker,

    /// <summary>Coordinator and registry grains, the client gateway and HTTP endpoints.</summary>
    Coordinator,

    /// <summary>Everything (one machine).</summary>
    All,
}

/// <summary>Configuration section "OrleansDiffusion" (see silos/OrleansDiffusion.Silo/README.md).</summary>
public sealed class DiffusionSiloOptions
{
    public const string Section = "OrleansDiffusion";

    public SiloRole Role { get; set; } = SiloRole.All;

    /// <summary>Comma-separated devices: cpu, cuda:0, cuda:1, …</summary>
    [Required]
    public string Devices { get; set; } = "cpu";

    [Required]
    public string ClusterId { get; set; } = "odiff";

    [Required]
    public string ServiceId { get; set; } = "odiff";

    /// <summary>StackExchange.Redis connection string for membership; empty: localhost clustering.</summary>
    public string? Redis { get; set; }

    /// <summary>Localhost clustering: the primary silo's endpoint (host:port), for several processes on one machine.</summary>
    public string? PrimarySilo { get; set; }

    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Range(0, 65535)]
    public int GatewayPort { get; set; } = 30000;

    [Range(0, 65535)]
    public int HttpPort { get; set; } = 8080;

    /// <summary>Address other silos reach this one at (default: POD_IP, else loopback).</summary>
    public string? AdvertisedAddress { get; set; }

    public string? SiloName { get; set; }

    [Required]
    public string OutputDirectory { get; set; } = "outputs";

    /// <summary>Keep Stable Diffusion weights in fp16 on GPU devices.</summary>
    public bool HalfPrecision { get; set; }

    public bool HostsTiles => Role is SiloRole.Worker or SiloRole.All;
    public bool HostsCoordinators => Role is SiloRole.Coordinator or SiloRole.All;

    public IReadOnlyList<string> DeviceList => Devices.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
