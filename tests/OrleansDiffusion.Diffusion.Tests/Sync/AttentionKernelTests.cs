using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Sync;

/// <summary>
/// The coordinator's sync loops (<see cref="CanvasKernels"/>) against the formulas written as whole-tensor ops, the way the
/// sync was first written: they must give the same bits, window for window, for any layout.
/// </summary>
public class AttentionKernelTests
{
    public static TheoryData<int, int, int, bool> Layouts() => new()
    {
        { 160, 64, 24, false },   // uneven: the last window is shifted inward
        { 144, 64, 16, true },    // tileable: windows wrap
        { 100, 48, 0, true },     // windows that do not overlap, wrapping
        { 64, 64, 0, false },     // one window alone (how a tile computes its own cells)
    };

    private static (SyncGeometry Geometry, Tensor Values) Setup(int size, int tile, int overlap, bool wrap)
    {
        var geometry = SyncGeometry.Of(TileLayout.Plan(size, size, tile, overlap, wrap));
        var generator = new Generator(11);
        var layout = geometry.Layout;
        var values = randn([4, layout.Count, layout.TileHeight, layout.TileWidth], generator: generator)
            + randn([4, layout.Count, 1, 1], generator: generator);
        return (geometry, values);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Attention_blend_matches_the_tensor_formulation_bit_for_bit(int size, int tile, int overlap, bool wrap)
    {
        var (geometry, values) = Setup(size, tile, overlap, wrap);
        foreach (var options in new[] { new AttentionSyncOptions(), new AttentionSyncOptions { ContentStrength = 2.5, CellSize = 5 }, new AttentionSyncOptions { ContentStrength = 0 } })
        {
            var sync = new AttentionSync(options);
            var pooled = sync.UsesTokens ? sync.Pool(values) : null;
            var (means, spreads) = AttentionSync.Statistics(values);
            foreach (var step in new[] { 0, 9 })
            {
                var tone = sync.Tone(geometry, step, 10, means, spreads);
                using var actual = sync.Blend(geometry, values, pooled, means, tone);
                var tokens = pooled is null ? null : AttentionSync.Interpolate(pooled, geometry.Layout);
                using var expected = Reference(geometry, values, tokens, means, tone, options.ContentStrength);
                Assert.True(actual.IsSameAs(expected), $"{options} step {step}: max diff {TensorAssertions.MaxDifference(actual, expected)}");
            }
        }
    }

    /// <summary>The coordinator splits the tone's rows over its compute threads; the scales and shifts must not depend on
    /// how many (the row sums are added in row order). 100 tiles: ranges of 16 rows or more for up to 6 threads.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(6)]
    public void Tone_on_several_threads_is_the_same_bits_as_on_one(int threads)
    {
        var (geometry, values) = Setup(330, 48, 16, false);
        Assert.Equal(100, geometry.Layout.Count);
        var sync = new AttentionSync(new AttentionSyncOptions());
        var (means, spreads) = AttentionSync.Statistics(values);
        var (meanValues, spreadValues) = (means.data<float>().ToArray(), spreads.data<float>().ToArray());
        foreach (var step in new[] { 0, 7 })
        {
            var (scale, shift) = sync.Tone(geometry, step, 10, meanValues, spreadValues, 4, threads: 1)!.Value;
            var (threadedScale, threadedShift) = sync.Tone(geometry, step, 10, meanValues, spreadValues, 4, threads)!.Value;
            Assert.Equal(scale, threadedScale);
            Assert.Equal(shift, threadedShift);
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Pooled_cells_and_statistics_are_the_plain_means_and_spreads(int size, int tile, int overlap, bool wrap)
    {
        var (geometry, values) = Setup(size, tile, overlap, wrap);
        var sync = new AttentionSync(new AttentionSyncOptions { CellSize = 7 });
        var cells = sync.TokenCells(geometry.Layout.TileHeight, geometry.Layout.TileWidth);
        using var pooled = sync.Pool(values);
        using var expected = nn.functional.adaptive_avg_pool2d(values, cells);
        Assert.True(pooled.allclose(expected, rtol: 0, atol: 1e-5), $"pool: max diff {TensorAssertions.MaxDifference(pooled, expected)}");
        var (means, spreads) = AttentionSync.Statistics(values);
        var flat = values.view(values.shape[0], values.shape[1], -1);
        Assert.True(means.allclose(flat.mean([2]).t(), rtol: 0, atol: 1e-6));
        Assert.True(spreads.allclose(flat.std(2).t(), rtol: 1e-5, atol: 1e-6));
    }

    /// <summary>Attention's canvas as tensor ops (DESIGN §5.3 c): tone, tokens Q = Σ g·t / Σ g, d = Σ_c (Q − t)²,
    /// V = Σ g·d / Σ g, w = g·exp(max(−λ·d / (2(V + 1e-12)), −20)), Σ w·v / Σ w.</summary>
    private static Tensor Reference(SyncGeometry geometry, Tensor values, Tensor? tokens, Tensor means, (Tensor Scale, Tensor Shift)? tone, double lambda)
    {
        using var scope = NewDisposeScope();
        if (tone is var (scale, shift))
        {
            static Tensor PerElement(Tensor perTile) => perTile.t().unsqueeze(2).unsqueeze(3);
            var (m, s, b) = (PerElement(means), PerElement(scale), PerElement(shift));
            values = (values - m).mul_(s).add_(m).add_(b);
            if (tokens is not null) tokens = (tokens - m).mul_(s).add_(m).add_(b);
        }
        var (gaussian, total) = (geometry.Gaussian, geometry.GaussianTotal);
        if (tokens is null) return geometry.Accumulate(values, gaussian).div_(total).MoveToOuterDisposeScope();
        var consensus = geometry.Accumulate(tokens, gaussian).div_(total);
        var distance = Gather(geometry, consensus).sub_(tokens).pow_(2).sum(0, keepdim: true);
        var disagreement = geometry.Accumulate(distance, gaussian).div_(total);
        var logit = distance.div(Gather(geometry, disagreement).add_(1e-12f).mul_(2)).neg_().mul_(lambda).clamp_min_(-20f);
        var weight = gaussian * Exp(logit);
        var sum = geometry.Accumulate(values, weight);
        using var expanded = weight.expand(1, geometry.Layout.Count, geometry.Layout.TileHeight, geometry.Layout.TileWidth);
        return sum.div_(geometry.Accumulate(expanded)).MoveToOuterDisposeScope();
    }

    /// <summary>e^x with the kernels' exponential, the one operation the reference shares with them: torch's exp takes
    /// a scalar path at each chunk's tail, so its last bit depends on where a value sits
    /// (<see cref="Kernel_exponential_is_torchs_to_an_ulp_and_independent_of_position"/>).</summary>
    private static Tensor Exp(Tensor x)
    {
        var result = x.contiguous().clone();
        SyncKernels.Exp(SyncKernels.Floats(result));
        return result;
    }

    [Fact]
    public void Kernel_exponential_is_torchs_to_an_ulp_and_independent_of_position()
    {
        using var x = rand(10_007, generator: new Generator(3)).mul_(40).sub_(30);   // [−30, 10): the logits' range and beyond
        using var expected = x.exp();
        using var actual = Exp(x);
        Assert.True(actual.allclose(expected, rtol: 3e-7, atol: 0), $"max relative error {TensorAssertions.MaxRelativeDifference(actual, expected)}");
        // Any sub-span (the band sync exponentiates a subset of the cells) gives each value the same bits.
        using var tail = Exp(x.narrow(0, 13, 1_001));
        Assert.True(tail.IsSameAs(actual.narrow(0, 13, 1_001)));
    }

    private static Tensor Gather(SyncGeometry geometry, Tensor canvas)
    {
        var crops = geometry.Crops(canvas, 0);
        return stack(geometry.GridToTile.Select(t => crops[t]).ToArray(), 1);
    }
}
