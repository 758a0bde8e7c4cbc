using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Denoisers;

public class ExemplarDenoiserTests
{
    private static readonly Tensor Exemplar = ExemplarCatalog.FromPrompt("bricks", 96).Image;

    /// <summary>The formula of DESIGN §5.4 written out directly: every neighbourhood against every patch, full norms.</summary>
    private static Tensor Reference(Tensor input, PatchGeometry g, Tensor exemplar, int count, int seed, double alphaBar)
    {
        var channels = (int)exemplar.shape[0];
        var blur = 2 * g.BlurRadius + 1;
        Tensor Blur(Tensor t) => blur == 1 ? t : nn.functional.avg_pool2d(t, [blur, blur], [1, 1]);
        var k = g.Size;
        // Patches of the blurred exemplar at the denoiser's sampled positions (same RNG, same margin).
        var height = (int)exemplar.shape[1];
        var width = (int)exemplar.shape[2];
        var margin = new PatchSizeSchedule().LargestRadius;
        var random = new Random(seed);
        var positions = Enumerable.Range(0, count).Select(_ => (Y: random.Next(margin, height - margin), X: random.Next(margin, width - margin))).ToArray();
        var blurred = Blur(exemplar.unsqueeze(0)).squeeze(0);
        var o = g.BlurRadius;
        var patches = stack(positions.Select(p =>
            blurred.narrow(1, p.Y - o - k / 2 * g.Dilation, (k - 1) * g.Dilation + 1).narrow(2, p.X - o - k / 2 * g.Dilation, (k - 1) * g.Dilation + 1)
                [.., TensorIndex.Slice(null, null, g.Dilation), TensorIndex.Slice(null, null, g.Dilation)].reshape(-1)).ToArray());
        var centres = stack(positions.Select(p => exemplar[.., p.Y, p.X]).ToArray());
        var neighbourhoods = nn.functional.unfold(Blur(input), k, dilation: g.Dilation).squeeze(0).t(); // [pixels, C·k²]
        double a = Math.Sqrt(alphaBar), b2 = 1 - alphaBar;
        var distances = cdist(neighbourhoods.unsqueeze(0), (patches * a).unsqueeze(0)).squeeze(0).square();
        var weights = (-distances / (2 * b2)).softmax(1);
        var outSide = (int)Math.Sqrt(neighbourhoods.shape[0]);
        return weights.mm(centres).t().reshape(1, channels, outSide, outSide);
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.97)]
    public void Complete_basis_reproduces_the_exact_formula(double alphaBar)
    {
        using var denoiser = new ExemplarDenoiser(Exemplar, new ExemplarDenoiserOptions { PatchCount = 128, ProjectionDims = null });
        var context = new DenoiseContext(0, 10, alphaBar, 0);
        var halo = denoiser.Halo(context);
        var generator = new Generator(3);
        var input = randn([1, 3, 24 + 2 * halo, 24 + 2 * halo], generator: generator) * Math.Sqrt(1 - alphaBar);
        var fast = denoiser.Predict(input, halo, context);
        var exact = Reference(input.to(ScalarType.Float64), new PatchSizeSchedule().At(alphaBar), Exemplar.to(ScalarType.Float64), 128, new ExemplarDenoiserOptions().BankSeed, alphaBar);
        var difference = (fast.to(ScalarType.Float64) - exact).abs().max().item<double>();
        Assert.True(difference < 2e-3, $"max difference {difference}");
    }

    [Fact]
    public void A_window_with_its_halo_computes_the_same_pixels_as_the_whole_canvas()
    {
        using var denoiser = new ExemplarDenoiser(Exemplar, new ExemplarDenoiserOptions { PatchCount = 128 });
        var context = new DenoiseContext(0, 10, 0.4, 0);
        var halo = denoiser.Halo(context);
        var canvas = randn([1, 3, 80 + 2 * halo, 80 + 2 * halo], generator: new Generator(11));
        var whole = denoiser.Predict(canvas, halo, context);
        var window = denoiser.Predict(canvas[.., .., 30..(30 + 40 + 2 * halo), 17..(17 + 33 + 2 * halo)], halo, context);
        Assert.True((window - whole[.., .., 30..70, 17..50]).abs().max().item<float>() < 1e-4f);
    }

    [Fact]
    public void Denoises_the_exemplar_better_than_the_noise_alone()
    {
        using var denoiser = new ExemplarDenoiser(Exemplar);
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
    public void Rejects_an_exemplar_smaller_than_the_widest_patch()
    {
        var error = Assert.Throws<ArgumentException>(() => new ExemplarDenoiser(zeros(3, 20, 20)));
        Assert.Contains("exemplar must be larger", error.Message);
    }
}
