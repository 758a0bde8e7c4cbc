using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

public sealed class ProceduralTexturesTests
{
    private const int Size = 128;

    public static TheoryData<string> Names => new(ProceduralTextures.Names);

    [Fact]
    public void OffersTheDocumentedTextures() =>
        Assert.Subset(ProceduralTextures.Names.ToHashSet(), new HashSet<string> { "marble", "bricks", "wood", "clouds", "cells", "terrain" });

    [Theory]
    [MemberData(nameof(Names))]
    public void IsPeriodic(string name)
    {
        using var texture = ProceduralTextures.Generate(name, Size, 3);

        AssertPeriodic(texture);
    }

    [Fact]
    public void PeriodicityCheck_CatchesANonPeriodicImage()
    {
        using var noise = TestImages.SmoothNoise(Size, 3);

        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertPeriodic(noise));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void IsDeterministicPerSeed_InRange_AndNotFlat(string name)
    {
        using var first = ProceduralTextures.Generate(name, Size, 11);
        using var again = ProceduralTextures.Generate(name.ToUpperInvariant(), Size, 11);
        using var other = ProceduralTextures.Generate(name, Size, 12);

        Assert.Equal(new long[] { 3, Size, Size }, first.shape);
        Assert.Equal(ScalarType.Float32, first.dtype);
        Assert.Equal(first.data<float>().ToArray(), again.data<float>().ToArray());
        Assert.True(TensorAssertions.MeanDifference(first, other) > 0.02f, "another seed gives another texture");
        Assert.InRange(first.min().item<float>(), -1f, 1f);
        Assert.InRange(first.max().item<float>(), -1f, 1f);
        Assert.True(first.std().item<float>() > 0.05f, "the texture has structure");
    }

    [Fact]
    public void TexturesDifferFromEachOther()
    {
        var textures = ProceduralTextures.Names.Select(n => ProceduralTextures.Generate(n, 64, 0)).ToArray();
        try
        {
            for (var i = 0; i < textures.Length; i++)
            {
                for (var j = i + 1; j < textures.Length; j++)
                {
                    var difference = TensorAssertions.MeanDifference(textures[i], textures[j]);
                    Assert.True(difference > 0.1f, $"{ProceduralTextures.Names[i]} vs {ProceduralTextures.Names[j]}: {difference}");
                }
            }
        }
        finally
        {
            foreach (var texture in textures)
            {
                texture.Dispose();
            }
        }
    }

    [Fact]
    public void UnknownName_ListsTheValidOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => ProceduralTextures.Generate("plaid", 64, 0));

        Assert.Contains("'plaid'", error.Message);
        Assert.All(ProceduralTextures.Names, name => Assert.Contains(name, error.Message));
    }

    /// <summary>Two checks that fail on a seam at the wrap: the luminance step across the wrap is no larger than
    /// the largest step inside the image (per axis), and rolling by half barely moves the seam score.</summary>
    private static void AssertPeriodic(Tensor texture)
    {
        using var scope = NewDisposeScope();
        var luminance = 0.299 * texture[0] + 0.587 * texture[1] + 0.114 * texture[2];
        for (var axis = 0; axis < 2; axis++)
        {
            var steps = luminance.diff(dim: 1 - axis).abs().mean(new long[] { axis });
            var wrap = (luminance.select(1 - axis, 0) - luminance.select(1 - axis, -1)).abs().mean().item<float>();
            Assert.True(wrap <= steps.max().item<float>(), $"axis {axis}: wrap step {wrap} exceeds every interior step (max {steps.max().item<float>()})");
        }

        var score = SeamScore.Compute(texture);
        var rolled = SeamScore.Compute(texture.roll([Size / 2, Size / 2], [1, 2]));
        Assert.InRange(rolled / score, 0.8, 1.25);
    }
}
