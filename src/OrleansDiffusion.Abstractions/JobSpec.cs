namespace OrleansDiffusion.Abstractions;

/// <summary>Everything that determines a generated image. The same spec and seed give the same image
/// whatever the tiling of compute, silo count or machine.</summary>
public sealed record JobSpec
{
    /// <summary>Largest canvas accepted, in pixels (width × height): 16384 × 16384.</summary>
    public const long MaxPixels = 16384L * 16384L;

    public string Prompt { get; init; } = "";
    public string NegativePrompt { get; init; } = "";

    /// <summary>A PNG whose patches the built-in exemplar denoiser reproduces; null picks a procedural texture from the prompt.</summary>
    public string? ExemplarPath { get; init; }

    /// <summary>A diffusers model folder; null selects the built-in exemplar denoiser.</summary>
    public string? ModelPath { get; init; }

    public int Width { get; init; } = 1024;
    public int Height { get; init; } = 1024;
    public int Steps { get; init; } = 20;
    public long Seed { get; init; } = 1;

    /// <summary>Tile (window) size in canvas pixels.</summary>
    public int Tile { get; init; } = 384;

    /// <summary>Overlap between neighbouring windows; must be 0 for <see cref="SyncMode.Halo"/>.</summary>
    public int Overlap { get; init; } = 64;

    public SyncMode Sync { get; init; } = SyncMode.Attention;
    public SchedulerKind Scheduler { get; init; } = SchedulerKind.Ddim;

    /// <summary>DDIM eta: 0 is deterministic, 1 is DDPM-like; injected noise comes from the shared noise field.</summary>
    public double Eta { get; init; }

    /// <summary>Use Karras sigmas with the Euler scheduler.</summary>
    public bool Karras { get; init; }

    /// <summary>Classifier-free guidance weight (Stable Diffusion models only).</summary>
    public double Cfg { get; init; } = 7.5;

    /// <summary>Wrap the canvas around so the output tiles seamlessly.</summary>
    public bool Tileable { get; init; }
}
