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

/// <summary>Configuration section "OrleansDiffusion" (see silos/OrleansDiffusion.Silo/README.md), validated at start by
/// <see cref="DiffusionSiloOptionsValidator"/>.</summary>
public sealed class DiffusionSiloOptions
{
    public const string Section = "OrleansDiffusion";

    public SiloRole Role { get; set; } = SiloRole.All;

    /// <summary>The accelerator devices: cpu, cuda:0, cuda:1, … (configuration: <c>Devices:0</c>, <c>Devices:1</c>, …).</summary>
    public List<string> Devices { get; set; } = [];

    public string ClusterId { get; set; } = "odiff";

    public string ServiceId { get; set; } = "odiff";

    /// <summary>Redis (host:port[,host:port]) for membership, job records and reminders; empty: localhost clustering,
    /// in-memory records and reminders (one machine).</summary>
    public string? Redis { get; set; }

    /// <summary>Redis ACL user and password (from a Secret; never on a command line).</summary>
    public string? RedisUser { get; set; }

    public string? RedisPassword { get; set; }

    /// <summary>Connect to Redis over TLS.</summary>
    public bool RedisTls { get; set; }

    /// <summary>Localhost clustering: the primary silo's endpoint (host:port), for several processes on one machine.</summary>
    public string? PrimarySilo { get; set; }

    public int SiloPort { get; set; } = 11111;

    /// <summary>Client gateway port of coordinator silos (workers open none).</summary>
    public int GatewayPort { get; set; } = 30000;

    public int HttpPort { get; set; } = 8080;

    /// <summary>The address the silo, gateway and HTTP ports listen on (default: every interface with Redis
    /// clustering, loopback without).</summary>
    public string? ListenAddress { get; set; }

    /// <summary>Address other silos reach this one at (default: POD_IP, else loopback).</summary>
    public string? AdvertisedAddress { get; set; }

    public string? SiloName { get; set; }

    /// <summary>Mutual TLS silo↔silo and client↔gateway (section <c>Tls</c>); off unless its certificate file is set.</summary>
    public DiffusionTlsOptions Tls { get; set; } = new();

    /// <summary>A file holding the bearer token <c>/metrics</c> then asks for; empty: <c>/metrics</c> is open.</summary>
    public string? MetricsTokenFile { get; set; }

    public string OutputDirectory { get; set; } = "outputs";

    /// <summary>Job checkpoints (default: <c>.checkpoints</c> under <see cref="OutputDirectory"/>).</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>Steps between job checkpoints (0: none).</summary>
    public int CheckpointEvery { get; set; } = 5;

    /// <summary>The model store: each model is a diffusers folder directly under it, named as jobs name it.</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>Jobs queued or running at once in the cluster (admission control).</summary>
    public int MaxQueuedJobs { get; set; } = 64;

    /// <summary>Compute threads of this process: libtorch's intra-op threads, and on a coordinator the attention band sync's
    /// (its chunks of tile rows side by side); 0: the CPU quota (cgroup limit, else the processor count).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>glibc's mmap threshold for this silo process (bytes; 0: glibc's dynamic default): native blocks above it,
    /// libtorch's tensors, go back to the kernel when freed instead of staying in malloc's arenas (<see cref="GlibcHeap"/>).</summary>
    public int MallocMmapThreshold { get; set; } = 256 << 10;

    /// <summary>How long a device waits for the rest of a job's tiles of a step before running the batch it has.</summary>
    public TimeSpan BatchGatherWindow { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Bytes of loaded models each device keeps cached for later jobs (least recently used go first).</summary>
    public long ModelCacheBytes { get; set; } = 16L << 30;

    /// <summary>Bytes of VAE decode activations each device keeps live between GroupNorms (decode tiles beyond it are parked
    /// and replay from their latent crop); 0: an eighth of the process's memory limit on the CPU, 4 GiB on a GPU.</summary>
    public long DecodeMemoryBytes { get; set; }

    /// <summary>Keep Stable Diffusion weights in fp16 on GPU devices.</summary>
    public bool HalfPrecision { get; set; }

    /// <summary>Orleans' response timeout for every grain call. No call waits on long work: tile calls wait at most a
    /// third of it (and at most 10 s) and are repeated, so a step may take any time.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>&gt; 0 only for <c>odiff bench scaling</c>: this silo's tiles use a simulated denoiser that sleeps this many
    /// milliseconds per window instead of running the job's model, and its coordinators plan jobs for it (no context,
    /// like an SD UNet); never set it on a silo that serves jobs.</summary>
    public double BenchmarkTileMilliseconds { get; set; }

    /// <summary>How long a job waits for an accelerator silo to take its tiles (none has joined yet, or all were lost)
    /// before it fails.</summary>
    public TimeSpan WorkerWaitTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Payload bytes one step message to a worker silo's tile host carries at most each way; a silo whose tiles
    /// need more gets several messages per step (the coordinator's setting).</summary>
    public long HostMessageBytes { get; set; } = 16 << 20;

    /// <summary>Period of the reminder that resumes a job whose coordinator was lost.</summary>
    public TimeSpan ResumeCheckPeriod { get; set; } = TimeSpan.FromMinutes(1);

    public bool HostsTiles => Role is SiloRole.Worker or SiloRole.All;
    public bool HostsCoordinators => Role is SiloRole.Coordinator or SiloRole.All;

    /// <summary>The devices to use: as configured, or the CPU.</summary>
    public IReadOnlyList<string> DeviceList => Devices.Count == 0 ? ["cpu"] : Devices;
}
