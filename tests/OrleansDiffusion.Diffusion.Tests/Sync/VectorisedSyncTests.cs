using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Sync;

/// <summary>The vectorised sync (stacked proposals, two-pass accumulation, flat crop indices) against the per-tile,
/// per-piece loop it replaced. The loop summed a cell's windows one after another (((a + b) + c) + d); the two passes sum
/// each tile row first ((a + b) + (c + d)), so a cell covered by four windows may differ in the last bit or two of
/// float32: the canvas is compared within 1e-6 (values here are about ±3, one ulp is 2.4e-7), the crops bit for bit.</summary>
public class VectorisedSyncTests
{
    public static TheoryData<int, int, int, int, bool> Layouts => new()
    {
        { 160, 64, 24, 0, false },   // uneven: the last window is shifted inward
        { 150, 48, 16, 2, false },   // uneven, with context
        { 144, 64, 16, 3, true },    // tileable: windows wrap around the edges
    };

    private static JobPlan Plan(int size, int tile, int overlap, int context, bool wrap) =>
        new(new JobSpec { Width = size, Height = size, Tile = tile, Overlap = overlap, Steps = 10 },
            TileLayout.Plan(size, size, tile, overlap, wrap), context, 3);

    private static Tensor[] Proposals(JobPlan plan)
    {
        var generator = new Generator(11);
        return plan.Layout.Windows.Select(w => randn([3, w.Height, w.Width], generator: generator)).ToArray();
    }

    /// <summary>The loop the vectorised code replaced: accumulate window by window, piece by piece.</summary>
    private static Tensor LoopMean(JobPlan plan, Tensor[] proposals, Tensor? weight)
    {
        var layout = plan.Layout;
        using var sum = zeros(3, layout.CanvasHeight, layout.CanvasWidth);
        using var total = zeros(1, layout.CanvasHeight, layout.CanvasWidth);
        for (var i = 0; i < proposals.Length; i++)
            CanvasRegions.Accumulate(sum, total, layout.Windows[i], proposals[i], weight);
        return sum / total;
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Average_gaussian_and_halo_equal_the_per_tile_loop_bit_for_bit(int size, int tile, int overlap, int context, bool wrap)
    {
        var plan = Plan(size, tile, overlap, context, wrap);
        var proposals = Proposals(plan);
        using var gaussianWeight = WeightedAverageSync.GaussianWeight(plan);
        foreach (var (mode, weight) in new (ISyncMode, Tensor?)[] { (WeightedAverageSync.Average, null), (WeightedAverageSync.Gaussian, gaussianWeight), (HaloSync.Instance, null) })
        {
            using var expected = LoopMean(plan, proposals, weight);
            using var result = mode.Synchronize(new SyncInput(plan, proposals, 2, plan.Steps));
            Assert.True(result.Canvas!.allclose(expected, rtol: 0, atol: 1e-6), $"{mode.Mode}: max diff {TensorAssertions.MaxDifference(result.Canvas!, expected)}");
            foreach (var w in plan.Layout.Windows)
            {
                using var crop = CanvasRegions.Crop(result.Canvas!, w, plan.Context, plan.Layout.Wrap);
                Assert.True(TensorAssertions.SameBits(result.Updates[w.Index]!, crop), $"{mode.Mode}: update of tile {w.Index}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void No_sync_stitches_each_cell_from_the_window_it_lies_deepest_in(int size, int tile, int overlap, int context, bool wrap)
    {
        var plan = Plan(size, tile, overlap, context, wrap);
        var proposals = Proposals(plan);
        using var result = NoSync.Instance.Synchronize(new SyncInput(plan, proposals, plan.Steps - 1, plan.Steps));
        var canvas = result.Canvas!;
        var layout = plan.Layout;
        foreach (var (x, y) in new[] { (0, 0), (size / 2, size / 3), (size - 1, size - 1), (tile - overlap / 2, 5), (tile - 1, tile - 1) })
        {
            // The reference: depth of (x, y) in every window containing it, first deepest wins.
            var (bestDepth, bestValue) = (-1, 0f);
            foreach (var w in layout.Windows)
            {
                var lx = ((x - w.X) % size + size) % size;
                var ly = ((y - w.Y) % size + size) % size;
                if (lx >= w.Width || ly >= w.Height) continue;
                var depth = Math.Min(Math.Min(ly, w.Height - 1 - ly), Math.Min(lx, w.Width - 1 - lx));
                if (depth > bestDepth) (bestDepth, bestValue) = (depth, proposals[w.Index][1, ly, lx].item<float>());
            }
            Assert.Equal(bestValue, canvas[1, y, x].item<float>());
        }
        Assert.All(result.Updates, Assert.Null);
    }
}
