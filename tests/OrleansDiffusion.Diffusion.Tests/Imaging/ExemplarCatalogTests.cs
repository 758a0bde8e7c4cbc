using System.Numerics;
using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

public sealed class ExemplarCatalogTests
{
    public static TheoryData<string> Colours => new(ExemplarCatalog.ColourWords.Keys);

    [Theory]
    [InlineData("a red brick wall", "bricks")]
    [InlineData("ancient OAK planks", "wood")]
    [InlineData("cumulus clouds at noon", "clouds")]
    [InlineData("Tissue under a microscope", "cells")]
    [InlineData("mountain landscape, aerial photo", "terrain")]
    [InlineData("glowing magma river", "lava")]
    [InlineData("sunlit pool water", "water")]
    [InlineData("wet cobblestones", "stone")]
    [InlineData("polished marble floor", "marble")]
    [InlineData("stone wall", "stone")]
    [InlineData("an abstract dream", ExemplarCatalog.DefaultTexture)]
    [InlineData("", ExemplarCatalog.DefaultTexture)]
    public void PicksTheFirstMaterialWord(string prompt, string texture)
    {
        var exemplar = ExemplarCatalog.FromPrompt(prompt, 32);
        using var image = exemplar.Image;

        Assert.Equal(texture, exemplar.Name);
        Assert.Equal(new long[] { 3, 32, 32 }, image.shape);
    }

    [Fact]
    public void Untinted_IsTheProceduralTexture()
    {
        using var expected = ProceduralTextures.Generate("wood", 64, 5);
        using var actual = ExemplarCatalog.FromPrompt("a wooden table", 64, 5).Image;

        Assert.Equal(expected.data<float>().ToArray(), actual.data<float>().ToArray());
    }

    [Theory]
    [MemberData(nameof(Colours))]
    public void ColourWord_MovesTheMeanColourTowardIt(string colour)
    {
        using var plain = ExemplarCatalog.FromPrompt("marble", 64).Image;
        using var tinted = ExemplarCatalog.FromPrompt($"{colour} marble", 64).Image;
        var target = ExemplarCatalog.ColourWords[colour];

        Assert.True(
            Vector3.Distance(MeanColour(tinted), target) < 0.6f * Vector3.Distance(MeanColour(plain), target),
            $"{colour}: {MeanColour(plain)} -> {MeanColour(tinted)}, target {target}");
        Assert.InRange(tinted.min().item<float>(), -1f, 1f);
        Assert.InRange(tinted.max().item<float>(), -1f, 1f);
    }

    [Fact]
    public void Tint_KeepsTheLuminanceStructure()
    {
        using var plain = ExemplarCatalog.FromPrompt("bricks", 64).Image;
        using var tinted = ExemplarCatalog.FromPrompt("blue bricks", 64).Image;
        using var pair = stack([Luminance(plain).flatten(), Luminance(tinted).flatten()]);

        Assert.True(corrcoef(pair)[0, 1].item<float>() > 0.95f);
    }

    [Fact]
    public void FromFile_NamesTheExemplarAfterTheFile()
    {
        using var directory = new TempDirectory();
        var path = directory.File("my-texture.png");
        using var written = ProceduralTextures.Generate("cells", 32, 1);
        PngWriter.Write(path, written, PngBitDepth.Eight, "");

        var exemplar = ExemplarCatalog.FromFile(path);
        using var image = exemplar.Image;

        Assert.Equal("my-texture", exemplar.Name);
        Assert.True(TensorAssertions.MaxDifference(image, written) <= 1f / 127.5f);
    }

    private static Vector3 MeanColour(Tensor image)
    {
        var mean = ((image + 1) / 2).mean([1, 2]).data<float>().ToArray();
        return new Vector3(mean[0], mean[1], mean[2]);
    }

    private static Tensor Luminance(Tensor image) => 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2];
}
