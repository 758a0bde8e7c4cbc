namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>Knobs of <see cref="AttentionSync"/>; the defaults are what the product ships.</summary>
public sealed record AttentionSyncOptions
{
    /// <summary>Side of the square cells pooled into one summary token.</summary>
    public int CellSize { get; init; } = 8;

    /// <summary>λ: weight of content similarity in the overlap attention (0: exactly Gaussian weights).</summary>
    public double ContentStrength { get; init; } = 1.0;

    /// <summary>γ0: initial pull of each tile's per-channel mean and spread toward the attention-weighted mix (0: off).</summary>
    public double ToneStrength { get; init; } = 0.5;

    /// <summary>Length scale of the spatial bias between tile centres, as a fraction of the canvas diagonal.</summary>
    public double SpatialScale { get; init; } = 0.5;
}
