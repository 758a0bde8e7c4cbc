using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.StableDiffusion;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>The tiny random model end to end: guidance, tiled decode, generation through the engine.</summary>
public sealed class StableDiffusionTests(TinyModelFixture tiny, ITestOutputHelper output) : IClassFixture<TinyModelFixture>
{
    private static JobSpec Spec(string folder, SyncMode sync = SyncMode.Average) => new()
    {
        Prompt = "a photo of a cat",
        NegativePrompt = "blue",
        Model = folder,
        Width = 64,
        Height = 48,
        Tile = 32,
        Overlap = 16,
        Steps = 3,
        Seed = 7,
        Sync = sync,
        Cfg = 5,
    };

    [Fact]
    public void Tiny_folder_loads_with_its_configuration()
    {
        var folder = tiny.Model.Folder;

        Assert.Equal(8, folder.LatentScale);
        Assert.Equal(["unet", "vae", "text_encoder"], folder.Weights.Select(w => w.Name));
        Assert.All(folder.Weights, w => Assert.Equal(["F32"], w.DTypes));
        var ids = folder.Tokenizer.Encode("a photo of a zebra");
        Assert.Equal(folder.Tokenizer.StartId, ids[0]);
        Assert.Equal(tiny.Model.TextEncoder.Config.VocabSize - 1, folder.Tokenizer.EndId);
        Assert.Equal(folder.Tokenizer.EndId, ids[^1]);
    }

    [Fact]
    public void Guidance_one_equals_the_conditional_prediction()
    {
        using var denoiser = new StableDiffusionDenoiser(tiny.Model, "a photo of a cat", "blue", guidance: 1);
        manual_seed(3);
        using var input = randn(3, 4, 4, 4);
        var context = new DenoiseContext(0, 10, 0.5, 601);

        using var guided = denoiser.Predict(input, 0, context);
        using var conditional = denoiser.PredictConditional(input, context);

        Assert.Equal([3L, 4, 4, 4], guided.shape);
        Assert.True(guided.allclose(conditional, rtol: 0, atol: 1e-5), $"max |Δ| = {TensorAssertions.MaxDifference(guided, conditional)}");
    }

    [Fact]
    public void Guidance_moves_away_from_the_negative_prompt()
    {
        using var one = new StableDiffusionDenoiser(tiny.Model, "a photo of a cat", "blue", guidance: 1);
        using var five = new StableDiffusionDenoiser(tiny.Model, "a photo of a cat", "blue", guidance: 5);
        manual_seed(4);
        using var input = randn(2, 4, 4, 4);
        var context = new DenoiseContext(0, 10, 0.5, 601);

        using var a = one.Predict(input, 0, context);
        using var b = five.Predict(input, 0, context);

        Assert.False(a.allclose(b, atol: 1e-4));
    }

    [Fact]
    public void Tiled_decode_with_pooled_group_norm_matches_the_untiled_decode()
    {
        manual_seed(5);
        using var latent = randn(4, 16, 24);
        using var batch = latent.unsqueeze(0);
        using var noGrad = no_grad();
        using var whole = tiny.Model.Vae.Decode(batch);

        using var tiled = TiledVaeDecoder.Decode(tiny.Model.Vae, latent, tile: 8);

        Assert.Equal([3L, 128, 192], tiled.shape);
        using var untiled = whole[0];
        using var delta = tiled - untiled;
        using var difference = delta.abs();
        var (largest, mean, spread) = (difference.max().item<float>(), difference.mean().item<float>(), whole.std().item<float>());
        output.WriteLine($"|tiled − untiled|: max {largest}, mean {mean}; output std {spread}");
        // Convolutions and pooled norms are exact; only the mid-block attention sees the tile's window plus halo
        // instead of the whole canvas, which bounds the tolerance.
        Assert.True(largest < 0.02f && mean < 2e-3f, $"|tiled − untiled|: max {largest}, mean {mean}; output std {spread}");
    }

    [Fact]
    public void Tiled_decode_without_halo_differs_which_shows_the_test_can_fail()
    {
        manual_seed(5);
        using var latent = randn(4, 16, 24);
        using var batch = latent.unsqueeze(0);
        using var noGrad = no_grad();
        using var whole = tiny.Model.Vae.Decode(batch);

        using var tiled = TiledVaeDecoder.Decode(tiny.Model.Vae, latent, tile: 8, halo: 0);

        Assert.True(TensorAssertions.MaxDifference(tiled, whole[0]) > 1e-3f);
    }

    [Fact]
    public async Task Generation_is_exactly_deterministic_for_a_seed_and_uses_latent_tiles()
    {
        var spec = Spec(tiny.Folder);
        using var first = await LocalGeneration.RunAsync(spec);
        using var second = await LocalGeneration.RunAsync(spec);
        using var other = await LocalGeneration.RunAsync(spec with { Seed = 8 });

        Assert.Equal([3L, 48, 64], first.Canvas.shape);
        Assert.Equal(6, first.Statistics.Tiles); // latent 8×6 cells, windows of 4 cells overlapping by 2: 3 × 2
        Assert.True(first.Canvas.IsSameAs(second.Canvas));
        Assert.False(first.Canvas.IsSameAs(other.Canvas));
        using var magnitude = first.Canvas.abs();
        using var largest = magnitude.max();
        Assert.True(largest.item<float>() <= 1);
    }

    [Theory]
    [InlineData(SyncMode.None)]
    [InlineData(SyncMode.Gaussian)]
    [InlineData(SyncMode.Attention)]
    public async Task Every_overlapping_sync_mode_runs(SyncMode sync)
    {
        using var result = await LocalGeneration.RunAsync(Spec(tiny.Folder, sync));

        Assert.Equal([3L, 48, 64], result.Canvas.shape);
        Assert.False(TensorAssertions.HasNaN(result.Canvas));
    }

    [Fact]
    public void Canvas_and_tiles_must_fit_the_latent_grid()
    {
        var error = Assert.Throws<InvalidJobException>(() => JobComponents.OpenModel(Spec(tiny.Folder) with { Width = 72, Overlap = 12 }));

        Assert.Contains(error.Errors, e => e.Field == "width" && e.Message.Contains("multiple of 16"));
        Assert.Contains(error.Errors, e => e.Field == "overlap" && e.Message.Contains("multiple of 8"));
    }
}
