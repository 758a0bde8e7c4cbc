using OrleansDiffusion.Abstractions;
using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// x = Σ_i w_i·F_iᵀ x̂_i / Σ_i w_i·F_iᵀ 1: the per-pixel weighted mean of every window covering a pixel.
/// Uniform weights give MultiDiffusion (<see cref="SyncMode.Average"/>); Gaussian weights centred on each
/// window give Mixture of Diffusers (<see cref="SyncMode.Gaussian"/>).
/// </summary>
public sealed class WeightedAverageSync : ISyncMode
{
    /// <summary>Variance of the window Gaussian in normalised window coordinates (Mixture of Diffusers).</summary>
    public const double GaussianVariance = 0.01;

    private WeightedAverageSync(SyncMode mode) => Mode = mode;

    public static WeightedAverageSync Average { get; } = new(SyncMode.Average);
    public static WeightedAverageSync Gaussian { get; } = new(SyncMode.Gaussian);

    public SyncMode Mode { get; }

    /// <summary>Local denoisers read their receptive halo from the synced canvas: otherwise each window's border
    /// is computed from mirrored context, and a uniform average turns that error into a line at every window edge.</summary>
    public int Context(int maxDenoiserHalo) => maxDenoiserHalo;

    public SyncResult Synchronize(SyncInput input) =>
        CanvasSync.Result(input, CanvasSync.Mean(input.Plan, input.Proposals, Mode == SyncMode.Gaussian));

    /// <summary>[1, h, w] separable Gaussian centred on the window.</summary>
    public static Tensor GaussianWeight(JobPlan plan)
    {
        using var flat = SyncGeometry.WindowGaussian(plan.Layout);
        return flat.view(1, plan.Layout.TileHeight, plan.Layout.TileWidth);
    }
}

/// <summary>Shared parts of the canvas-based modes, vectorised over all tiles (see <see cref="SyncGeometry"/>).</summary>
internal static class CanvasSync
{
    /// <summary>The uniform (<paramref name="gaussian"/> false) or Gaussian-weighted mean canvas [C, H, W].</summary>
    public static Tensor Mean(JobPlan plan, IReadOnlyList<Tensor> proposals, bool gaussian)
    {
        using var scope = NewDisposeScope();
        var geometry = SyncGeometry.Of(plan.Layout);
        return Mean(geometry, WindowPlanes.Of(geometry, proposals), gaussian).MoveToOuterDisposeScope();
    }

    /// <summary>The mean canvas of stacked windows [C, T, h, w] (grid order).</summary>
    public static Tensor Mean(SyncGeometry geometry, Tensor stacked, bool gaussian)
    {
        using var scope = NewDisposeScope();
        return Mean(geometry, WindowPlanes.Stacked(stacked), gaussian).MoveToOuterDisposeScope();
    }

    private static Tensor Mean(SyncGeometry geometry, WindowPlanes windows, bool gaussian)
    {
        var canvas = zeros(windows.Channels, geometry.Layout.CanvasHeight, geometry.Layout.CanvasWidth);
        CanvasKernels.Mean(geometry, windows, null, gaussian, SyncKernels.Floats(canvas));
        return windows.Device.type == TorchSharp.DeviceType.CPU ? canvas : canvas.to(windows.Device);
    }

    /// <summary>Each tile's next window is its crop (window plus context) of the synced canvas.</summary>
    public static SyncResult Result(SyncInput input, Tensor canvas)
    {
        var plan = input.Plan;
        var updates = new Tensor?[plan.Layout.Count];
        if (!input.IsLast)
        {
            var crops = SyncGeometry.Of(plan.Layout).Crops(canvas, plan.Context);
            for (var i = 0; i < updates.Length; i++) updates[i] = crops[i];
        }
        return new SyncResult(canvas, updates);
    }
}
