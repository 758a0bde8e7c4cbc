using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

/// <summary>Golden behaviour of the bidirectional patch similarity.</summary>
public class TextureScoreTests
{
    [Theory]
    [InlineData("bricks")]
    [InlineData("hexagons")]
    [InlineData("checkerboard")]
    [InlineData("gradient")]
    public void A_random_offset_copy_scores_near_zero(string name)
    {
        using var exemplar = StructuredExemplars.Make(name, 64);
        using var copy = exemplar.roll([23, 41], [1, 2]).repeat(1, 2, 2); // periodic exemplar: a shifted, tiled copy
        var score = TextureScore.Compute(copy, exemplar);
        Assert.Equal(3, score.Scales.Count);
        // Every exemplar patch is in the copy. Coherence is not exactly 0 at coarse scales: patches across the copy's
        // wrap-around seams are not exemplar patches (the exemplar is not assumed periodic).
        foreach (var scale in score.Scales) Assert.InRange(scale.Completeness, 0, 0.02);
        Assert.InRange(score.Scales[0].Coherence, 0, 0.1);
    }

    [Fact]
    public void A_crop_of_the_exemplar_is_fully_coherent()
    {
        using var exemplar = StructuredExemplars.Gradient(96);
        var score = TextureScore.Compute(exemplar[.., 13..77, 29..93], exemplar);
        foreach (var scale in score.Scales) Assert.InRange(scale.Coherence, 0, 1e-4);
    }

    [Fact]
    public void An_identical_image_scores_zero()
    {
        using var exemplar = StructuredExemplars.Bricks(64);
        var score = TextureScore.Compute(exemplar, exemplar);
        Assert.True(score.Completeness < 1e-4 && score.Coherence < 1e-4, $"{score.Completeness} {score.Coherence}");
    }

    [Theory]
    [InlineData("bricks")]
    [InlineData("hexagons")]
    [InlineData("gradient")]
    public void A_flat_image_of_the_mean_colour_scores_completeness_one(string name)
    {
        using var exemplar = StructuredExemplars.Make(name, 64);
        using var flat = exemplar.mean([1, 2], keepdim: true).expand(-1, 96, 96).contiguous();
        var score = TextureScore.Compute(flat, exemplar);
        foreach (var scale in score.Scales)
        {
            Assert.InRange(scale.Completeness, 0.999, 1.001);
            Assert.InRange(scale.Coherence, 0, 1.001);
        }
    }

    [Fact]
    public void Noise_scores_worse_than_flat()
    {
        using var exemplar = StructuredExemplars.Bricks(64);
        using var noise = rand([3, 96, 96], generator: new Generator(5)) * 2 - 1;
        var score = TextureScore.Compute(noise, exemplar);
        Assert.True(score.Scales[0].Completeness > 1.5, $"completeness {score.Scales[0].Completeness}");
        Assert.True(score.Scales[0].Coherence > 1.5, $"coherence {score.Scales[0].Coherence}");
    }

    [Fact]
    public void Painting_out_the_light_squares_raises_completeness()
    {
        using var exemplar = StructuredExemplars.Checkerboard(64);
        // The light squares painted over: every patch that shows one is missing from the output.
        using var dark = exemplar.clamp_max(-0.2);
        var full = TextureScore.Compute(exemplar.repeat(1, 2, 2), exemplar);
        var half = TextureScore.Compute(dark.repeat(1, 2, 2), exemplar);
        Assert.True(half.Completeness > full.Completeness + 0.3, $"{half.Completeness} vs {full.Completeness}");
    }

    [Fact]
    public void Rejects_images_too_small_for_the_quarter_scale()
    {
        var error = Assert.Throws<ArgumentException>(() => TextureScore.Compute(zeros(3, 20, 20), zeros(3, 64, 64)));
        Assert.Equal("output", error.ParamName);
    }
}
