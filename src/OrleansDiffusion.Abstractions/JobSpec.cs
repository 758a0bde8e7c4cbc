namespace OrleansDiffusion.Abstractions;

/// <summary>Everything that determines a generated image. The same spec and seed give the same image
/// whatever the tiling of compute, silo count or machine.</summary>
[GenerateSerializer, Immutable, Alias("odiff.JobSpec")]
public sealed record JobSpec
{
    /// <summary>Largest canvas accepted, in pixels (width × height): 16384 × 16384.</summary>
    public const long MaxPixels = 16384L * 16384L;

    [Id(0)]
    public string Prompt { get; init; } = "";
    [Id(1)]
    public string NegativePrompt { get; init; } = "";

    /// <summary>A PNG whose patches the built-in exemplar denoiser reproduces, travelling with the job (never a silo
    /// path); null picks a procedural texture from the prompt.</summary>
    [Id(2)]
    public ExemplarImage? Exemplar { get; init; }

    /// <summary>The Stable Diffusion model: on a cluster a name in the silos' model store (<c>sd15</c> →
    /// <c>&lt;models&gt;/sd15</c>); in-process (<c>odiff generate</c>) a local diffusers folder. Null selects the built-in
    /// exemplar denoiser.</summary>
    [Id(3)]
    public string? Model { get; init; }

    [Id(4)]
    public int Width { get; init; } = 1024;
    [Id(5)]
    public int Height { get; init; } = 1024;
    [Id(6)]
    public int Steps { get; init; } = 20;
    [Id(7)]
    public long Seed { get; init; } = 1;

    /// <summary>Tile (window) size in canvas pixels.</summary>
    [Id(8)]
    public int Tile { get; init; } = StandardTile;

    /// <summary>Overlap between neighbouring windows; must be 0 for <see cref="SyncMode.Halo"/>.</summary>
    [Id(9)]
    public int Overlap { get; init; } = StandardOverlap;

    private const int StandardTile = 384;
    private const int StandardOverlap = 64;

    /// <summary>This spec (its size and sync mode set) with the tile and overlap a client named, and for each it left out
    /// (null) one that fits: the tile 384, or the canvas's larger side when that is smaller (a 256² canvas is one tile
    /// instead of a refused spec); the overlap 0 for halo sync, else 64, or half the tile (a multiple of 8) when 64 would
    /// not fit in it. Every front end (command line, HTTP, txt2img) fills its spec this way.</summary>
    public JobSpec WithTiling(int? tile, int? overlap)
    {
        var side = tile ?? Math.Min(StandardTile, Math.Max(Width, Height));
        return this with { Tile = side, Overlap = overlap ?? (Sync == SyncMode.Halo ? 0 : StandardOverlap < side ? StandardOverlap : side / 2 / 8 * 8) };
    }

    [Id(10)]
    public SyncMode Sync { get; init; } = SyncMode.Attention;
    [Id(11)]
    public SchedulerKind Scheduler { get; init; } = SchedulerKind.Ddim;

    /// <summary>DDIM eta: 0 is deterministic, 1 is DDPM-like; injected noise comes from the shared noise field.</summary>
    [Id(12)]
    public double Eta { get; init; }

    /// <summary>Use Karras sigmas with the Euler scheduler.</summary>
    [Id(13)]
    public bool Karras { get; init; }

    /// <summary>Classifier-free guidance weight (Stable Diffusion models only).</summary>
    [Id(14)]
    public double Cfg { get; init; } = 7.5;

    /// <summary>Wrap the canvas around so the output tiles seamlessly.</summary>
    [Id(15)]
    public bool Tileable { get; init; }
}
