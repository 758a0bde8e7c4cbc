using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>A validated job with its tile layout: what every tile needs to know to take part.</summary>
/// <param name="Context">pixels of canvas each tile keeps around its window (halo sync), else 0.</param>
public sealed record JobPlan(JobSpec Spec, TileLayout Layout, int Context, int Channels)
{
    public int Steps => Spec.Steps;
}
