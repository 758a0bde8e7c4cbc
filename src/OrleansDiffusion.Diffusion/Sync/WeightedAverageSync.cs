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

    public SyncResult Synchronize(SyncInput input) => CanvasSync.Result(input, BlendCanvas(input));

    private Tensor BlendCanvas(SyncInput input)
    {
        using var scope = NewDisposeScope();
        var weight = Mode == SyncMode.Gaussian ? GaussianWeight(input.Plan) : null;
        return Blend(input.Plan, input.Proposals, _ => weight).MoveToOuterDisposeScope();
    }

    /// <summary>Σ w_i x̂_i / Σ w_i over the canvas.</summary>
    internal static Tensor Blend(JobPlan plan, IReadOnlyList<Tensor> values, Func<int, Tensor?> weightOf)
    {
        var layout = plan.Layout;
        using var sum = zeros(values[0].shape[0], layout.CanvasHeight, layout.CanvasWidth);
        using var total = zeros(1, layout.CanvasHeight, layout.CanvasWidth);
        for (var i = 0; i < values.Count; i++)
        {
            using var scope = NewDisposeScope();
            CanvasRegions.Accumulate(sum, total, layout.Windows[i], values[i], weightOf(i));
        }
        return sum / total;
    }

    /// <summary>[1, h, w] separable Gaussian centred on the window.</summary>
    public static Tensor GaussianWeight(JobPlan plan)
    {
        using var gy = Gaussian1D(plan.Layout.TileHeight);
        using var gx = Gaussian1D(plan.Layout.TileWidth);
        return gy.unsqueeze(1).mul(gx.unsqueeze(0)).unsqueeze(0);
    }

    private static Tensor Gaussian1D(int length)
    {
        var mid = (length - 1) / 2.0;
        var values = Enumerable.Range(0, length)
            .Select(x => (float)Math.Exp(-Math.Pow((x - mid) / length, 2) / (2 * GaussianVariance)))
            .ToArray();
        return tensor(values);
    }
}

/// <summary>Shared tail of the canvas-based modes: each tile's next window is its crop of the synced canvas.</summary>
internal static class CanvasSync
{
    public static SyncResult Result(SyncInput input, Tensor canvas)
    {
        var plan = input.Plan;
        var updates = new Tensor?[plan.Layout.Count];
        if (!input.IsLast)
            for (var i = 0; i < updates.Length; i++)
                updates[i] = CanvasRegions.Crop(canvas, plan.Layout.Windows[i], plan.Context, plan.Layout.Wrap);
        return new SyncResult(canvas, updates);
    }
}
