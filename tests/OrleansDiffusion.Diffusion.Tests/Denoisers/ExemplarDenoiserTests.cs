using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Denoisers;

public class ExemplarDenoiserTests
{
    internal static readonly Tensor Exemplar = TensorScopeAttribute.Kept(() => ExemplarCatalog.FromPrompt("bricks", 96).Image);
    internal static readonly Lazy<ExemplarDenoiser> Shared = new(() => TensorScopeAttribute.Kept(() => new ExemplarDenoiser(Exemplar)));

    internal static Tensor Noisy(int size, double alphaBar, int halo, ulong seed)
    {
        var clean = Exemplar.repeat(1, 3, 3)[.., ..(size + 2 * halo), ..(size + 2 * halo)].unsqueeze(0);
        return (clean * Math.Sqrt(alphaBar) + randn(clean.shape, generator: new Generator(seed)) * Math.Sqrt(1 - alphaBar)).contiguous();
    }

    [Fact]
    public void A_window_with_its_halo_computes_the_same_pixels_as_the_whole_canvas()
    {
        var denoiser = Shared.Value;
        foreach (var alphaBar in new[] { 0.2, 0.5, 0.97 })
        {
            var context = new DenoiseContext(0, 10, alphaBar, 0);
            var halo = denoiser.Halo(context);
            var canvas = Noisy(80, alphaBar, halo, 11);
            var whole = denoiser.Predict(canvas, halo, context);
            // The coarse levels' blocks follow canvas coordinates: the window says where it lies (17 is no block multiple).
            var window = denoiser.Predict(canvas[.., .., 30..(30 + 40 + 2 * halo), 17..(17 + 33 + 2 * halo)], halo, context with { Origins = [(30, 17)] });
            Assert.True(TensorAssertions.MaxDifference(window, whole[.., .., 30..70, 17..50]) < 1e-4f, $"ᾱ={alphaBar}");
        }
    }

    [Fact]
    public void Coarse_levels_copy_matches_in_blocks_that_follow_the_canvas_and_fine_levels_ignore_the_position()
    {
        var denoiser = Shared.Value;
        foreach (var (alphaBar, block) in new[] { (0.3, 4), (0.97, 0) })
        {
            var context = new DenoiseContext(0, 10, alphaBar, 0);
            var halo = denoiser.Halo(context);
            using var input = Noisy(40, alphaBar, halo, 5);
            Tensor At(int y, int x) => denoiser.Predict(input, halo, context with { Origins = [(y, x)] });
            using var here = At(0, 0);
            using var blocksAway = At(block, 2 * block);
            using var halfBlockAway = At(0, 2);
            Assert.True(here.equal(blocksAway).all().item<bool>(), $"ᾱ={alphaBar}: moved by whole blocks");
            Assert.Equal(block == 0, here.equal(halfBlockAway).all().item<bool>());
        }
    }

    [Fact]
    public void A_batch_of_windows_gives_each_window_bit_for_bit_what_it_gets_alone()
    {
        var denoiser = Shared.Value;
        foreach (var alphaBar in new[] { 0.1, 0.6, 0.99 })
        {
            var context = new DenoiseContext(0, 10, alphaBar, 0);
            var halo = denoiser.Halo(context);
            var windows = Enumerable.Range(0, 3).Select(i => Noisy(40, alphaBar, halo, (ulong)(20 + i))).ToArray();
            var batched = denoiser.Predict(cat(windows, 0), halo, context);
            for (var i = 0; i < 3; i++)
                Assert.True(batched[i].equal(denoiser.Predict(windows[i], halo, context)[0]).all().item<bool>(), $"ᾱ={alphaBar}, window {i}");
        }
    }

    [Fact]
    public void At_low_noise_it_commits_to_the_exemplar_instead_of_averaging()
    {
        // A clean piece of the exemplar: the nearest patch of every pixel is the exemplar's own, so x̂0 is the input.
        var denoiser = Shared.Value;
        var context = new DenoiseContext(9, 10, 0.999, 0);
        var halo = denoiser.Halo(context);
        var clean = Exemplar[.., 10..(10 + 48 + 2 * halo), 20..(20 + 48 + 2 * halo)].unsqueeze(0);
        var estimate = denoiser.Predict(clean * Math.Sqrt(0.999), halo, context);
        var core = clean[.., .., halo..(halo + 48), halo..(halo + 48)];
        var error = TensorAssertions.MeanDifference(estimate, core);
        Assert.True(error < 0.03f, $"mean |x̂0 − x0| = {error}");
    }

    [Fact]
    public void Denoises_the_exemplar_better_than_the_noise_alone()
    {
        var denoiser = Shared.Value;
        var clean = Exemplar.repeat(1, 2, 2);
        foreach (var alphaBar in new[] { 0.2, 0.6, 0.95 })
        {
            var context = new DenoiseContext(0, 10, alphaBar, 0);
            var halo = denoiser.Halo(context);
            var noisy = clean * Math.Sqrt(alphaBar) + randn_like(clean) * Math.Sqrt(1 - alphaBar);
            var padded = nn.functional.pad(noisy.unsqueeze(0), [halo, halo, halo, halo], TorchSharp.PaddingModes.Circular);
            var estimate = denoiser.Predict(padded, halo, context)[0];
            var error = (estimate - clean).square().mean().item<float>();
            var naive = (noisy / Math.Sqrt(alphaBar) - clean).square().mean().item<float>();
            Assert.True(error < naive * 0.5, $"ᾱ={alphaBar}: error {error} vs {naive}");
        }
    }

    [Fact]
    public void A_procedural_exemplar_is_periodic_and_a_ramp_is_not()
    {
        Assert.True(ExemplarDenoiser.IsPeriodic(Exemplar.contiguous().data<float>().ToArray(), 3, 96, 96));
        var ramp = Enumerable.Range(0, 3 * 64 * 64).Select(i => i % 64 / 32f - 1).ToArray(); // -1 .. 1 along x, no wrap
        Assert.False(ExemplarDenoiser.IsPeriodic(ramp, 3, 64, 64));
    }

    [Fact]
    public void The_coarsest_level_is_used_only_on_exemplars_at_least_twice_its_span()
    {
        var context = new DenoiseContext(0, 10, 0.05, 0);
        using var large = new ExemplarDenoiser(ExemplarCatalog.FromPrompt("marble", 128).Image, new ExemplarDenoiserOptions { PatchCount = 256 });
        var coarsest = new ExemplarDenoiserOptions().Schedule.Levels[0].Geometry;
        Assert.Equal(coarsest.Radius, large.Halo(context));
        Assert.Equal(large.MaxHalo, Shared.Value.MaxHalo);
        Assert.True(Shared.Value.Halo(context) < coarsest.Radius, "a 96² exemplar falls back to the next finer level");
    }

    [Fact]
    public void Rejects_an_exemplar_smaller_than_the_widest_patch()
    {
        var error = Assert.Throws<ArgumentException>(() => new ExemplarDenoiser(zeros(3, 20, 20)));
        Assert.Contains("exemplar must be larger", error.Message);
    }
}

/// <summary>Changes libtorch's global thread count, which is unsafe while other tests run torch operations: alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchThreadCountCollection
{
    public const string Name = "libtorch thread count";
}

[Collection(TorchThreadCountCollection.Name)]
public class TorchThreadCountTests
{
    [Fact]
    public void The_result_does_not_depend_on_the_intra_op_thread_count()
    {
        var denoiser = ExemplarDenoiserTests.Shared.Value;
        var threads = get_num_threads();
        try
        {
            foreach (var alphaBar in new[] { 0.1, 0.6, 0.99 })
            {
                var context = new DenoiseContext(0, 10, alphaBar, 0);
                var halo = denoiser.Halo(context);
                var input = cat([ExemplarDenoiserTests.Noisy(64, alphaBar, halo, 31), ExemplarDenoiserTests.Noisy(64, alphaBar, halo, 32)], 0);
                set_num_threads(1);
                var one = denoiser.Predict(input, halo, context);
                set_num_threads(2);
                var two = denoiser.Predict(input, halo, context);
                Assert.True(one.equal(two).all().item<bool>(), $"ᾱ={alphaBar}");
            }
        }
        finally
        {
            set_num_threads(threads);
        }
    }
}
