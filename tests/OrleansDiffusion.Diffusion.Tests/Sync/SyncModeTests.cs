using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Sync;

public class SyncModeTests
{
    private static JobPlan Plan(int size = 160, int tile = 64, int overlap = 24, bool wrap = false) =>
        new(new JobSpec { Width = size, Height = size, Tile = tile, Overlap = overlap, Steps = 10 },
            TileLayout.Plan(size, size, tile, overlap, wrap), 0, 3);

    /// <summary>Proposals that disagree in overlaps: a shared smooth field plus per-tile content and tone.</summary>
    private static Tensor[] Proposals(JobPlan plan, int seed = 5)
    {
        var generator = new Generator((ulong)seed);
        return plan.Layout.Windows.Select(w =>
        {
            var y = arange(w.Y, w.Y + w.Height, dtype: ScalarType.Float32).view(1, -1, 1) / 20;
            var x = arange(w.X, w.X + w.Width, dtype: ScalarType.Float32).view(1, 1, -1) / 20;
            var shared = sin(x + y * 0.5f).expand(3, -1, -1);
            return (shared + randn([3, w.Height, w.Width], generator: generator) * 0.3f + randn([3, 1, 1], generator: generator) * 0.2f).contiguous();
        }).ToArray();
    }

    private static Tensor Canvas(ISyncMode mode, JobPlan plan, Tensor[] proposals, int step = 3)
    {
        using var result = mode.Synchronize(new SyncInput(plan, proposals, step, plan.Steps));
        return result.TakeCanvas();
    }

    [Fact]
    public void Average_is_the_per_pixel_mean_of_covering_windows()
    {
        var plan = Plan();
        var proposals = plan.Layout.Windows.Select(w => full(3, w.Height, w.Width, (float)w.Index)).ToArray();
        using var canvas = Canvas(WeightedAverageSync.Average, plan, proposals);
        var expected = new double[160, 160];
        var count = new int[160, 160];
        foreach (var w in plan.Layout.Windows)
            for (var y = w.Y; y < w.Y + w.Height; y++)
                for (var x = w.X; x < w.X + w.Width; x++) { expected[y, x] += w.Index; count[y, x]++; }
        foreach (var (x, y) in new[] { (0, 0), (50, 50), (60, 100), (159, 159), (100, 45) })
            Assert.Equal(expected[y, x] / count[y, x], canvas[1, y, x].item<float>(), 4);
    }

    [Fact]
    public void Gaussian_weights_favour_window_centres()
    {
        var plan = Plan();
        using var weight = WeightedAverageSync.GaussianWeight(plan);
        Assert.InRange(weight.max().item<float>(), 0.99f, 1f);
        Assert.True(weight[0, 32, 32].item<float>() > weight[0, 32, 5].item<float>());
        Assert.True(weight[0, 0, 0].item<float>() > 0);
    }

    [Fact]
    public void Attention_without_content_or_tone_terms_is_exactly_gaussian()
    {
        var plan = Plan();
        var proposals = Proposals(plan);
        using var gaussian = Canvas(WeightedAverageSync.Gaussian, plan, proposals);
        using var attention = Canvas(new AttentionSync(new AttentionSyncOptions { ContentStrength = 0, ToneStrength = 0 }), plan, proposals);
        Assert.True(attention.IsSameAs(gaussian));
        using var content = Canvas(new AttentionSync(new AttentionSyncOptions { ToneStrength = 0 }), plan, proposals);
        Assert.False(content.allclose(gaussian, rtol: 0, atol: 1e-4), "the content term changes the overlaps");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Attention_does_not_depend_on_the_order_of_tiles(bool wrap)
    {
        var plan = Plan(wrap: wrap);
        var proposals = Proposals(plan);
        var order = Enumerable.Range(0, plan.Layout.Count).Reverse().ToArray();
        (order[1], order[4]) = (order[4], order[1]);
        var permuted = plan with { Layout = plan.Layout.Reordered(order) };
        var sync = new AttentionSync();
        using var expected = Canvas(sync, plan, proposals);
        using var actual = Canvas(sync, permuted, order.Select(i => proposals[i]).ToArray());
        Assert.True(actual.allclose(expected, rtol: 0, atol: 1e-5), $"max diff {TensorAssertions.MaxDifference(actual, expected)}");
    }

    [Fact]
    public void Tone_sync_pulls_tile_statistics_together_and_fades_out()
    {
        var plan = Plan();
        var proposals = Proposals(plan);
        double Spread(Tensor canvas) => stack(plan.Layout.Windows.Select(w =>
            canvas.narrow(1, w.Y, w.Height).narrow(2, w.X, w.Width).mean([1, 2])).ToArray()).std(0).mean().item<float>();
        var contentOnly = new AttentionSync(new AttentionSyncOptions { ToneStrength = 0 });
        var full = new AttentionSync();
        using var withoutTone = Canvas(contentOnly, plan, proposals, step: 0);
        using var withTone = Canvas(full, plan, proposals, step: 0);
        Assert.True(Spread(withTone) < Spread(withoutTone) * 0.95, $"{Spread(withTone)} vs {Spread(withoutTone)}");
        using var lastWithout = Canvas(contentOnly, plan, proposals, step: plan.Steps - 1);
        using var lastWith = Canvas(full, plan, proposals, step: plan.Steps - 1);
        Assert.True(lastWith.IsSameAs(lastWithout), "tone strength must decay to zero at the last step");
    }

    [Fact]
    public void Synced_updates_are_the_tiles_crops_of_the_canvas()
    {
        var plan = Plan();
        var proposals = Proposals(plan);
        using var result = new AttentionSync().Synchronize(new SyncInput(plan, proposals, 0, plan.Steps));
        var canvas = result.Canvas!;
        foreach (var w in plan.Layout.Windows)
            Assert.True(result.Updates[w.Index]!.IsSameAs(canvas.narrow(1, w.Y, w.Height).narrow(2, w.X, w.Width)));
    }
}
