namespace OrleansDiffusion.Abstractions;

/// <summary>How the coordinator keeps tiles in agreement between denoising steps.</summary>
public enum SyncMode
{
    /// <summary>Tiles never see each other: the baseline that shows seams.</summary>
    None,

    /// <summary>MultiDiffusion: the per-pixel mean of every window covering the pixel.</summary>
    Average,

    /// <summary>Mixture of Diffusers: the mean weighted by a Gaussian centred on each window.</summary>
    Gaussian,

    /// <summary>Bidirectional cross-spatial attention: content-weighted overlap consensus plus global tone sync.</summary>
    Attention,

    /// <summary>Local denoisers only: each tile reads a halo of the synced canvas; tiled equals untiled.</summary>
    Halo,
}

/// <summary>The sampler that turns model predictions into the next latent.</summary>
public enum SchedulerKind
{
    /// <summary>DDIM (deterministic for eta = 0).</summary>
    Ddim,

    /// <summary>Euler discrete, optionally with Karras sigmas.</summary>
    Euler,
}
