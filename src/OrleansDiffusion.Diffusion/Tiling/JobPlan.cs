using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Diffusion.Tiling;

/// <summary>A validated job with its tile layout: what every tile needs to know to take part.</summary>
/// <param name="Context">cells of canvas each tile keeps around its window (halo sync), else 0.</param>
/// <param name="LatentScale">pixels per canvas cell: 1 when the canvas is the image, 8 for an SD latent canvas.</param>
public sealed record JobPlan(JobSpec Spec, TileLayout Layout, int Context, int Channels, int LatentScale = 1)
{
    public int Steps => Spec.Steps;
}
