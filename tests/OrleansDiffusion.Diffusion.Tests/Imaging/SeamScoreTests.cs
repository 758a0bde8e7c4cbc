using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

public sealed class SeamScoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void HandComputedGoldenValue()
    {
        // Grey pixels, so L equals the value. Column g = (10, 10, 40): 40 / 10 = 4. One row difference of 10: 1.
        byte[] rows = [0, 10, 20, 60, 10, 20, 30, 70];
        var rgb = rows.SelectMany(v => new[] { v, v, v }).ToArray();

        Assert.Equal((4.0, 1.0), SeamScore.ComputeAxes(rgb, 4, 2));
        Assert.Equal(4.0, SeamScore.Compute(rgb, 4, 2));
    }

    [Fact]
    public void UsesTheStatedLuminanceWeights()
    {
        // Pixels black, red, red, magenta: L = 0, 29.9, 29.9, 41.3, so g = (29.9, 0, 11.4) and the score is 29.9 / 11.4.
        byte[] pixels = [0, 0, 0, 100, 0, 0, 100, 0, 0, 100, 0, 100];
        var (column, _) = SeamScore.ComputeAxes(pixels, 4, 1);
        Assert.Equal(29.9 / 11.4, column, 12);
    }

    [Fact]
    public void ConstantImageScoresZero() => Assert.Equal(0.0, SeamScore.Compute(new byte[3 * 5 * 4], 5, 4));

    [Fact]
    public void HardStep_RaisesTheScoreOfSmoothNoise()
    {
        using var smooth = TestImages.SmoothNoise(256, 11);
        using var step = smooth.clone();
        using (var right = step.narrow(2, 100, 156))
        {
            right.add_(0.3);
        }

        var smoothScore = SeamScore.Compute(smooth);
        var stepScore = SeamScore.Compute(step);

        Assert.InRange(smoothScore, 1.0, 3.0);
        Assert.True(stepScore > 5 * smoothScore, $"step {stepScore} vs smooth {smoothScore}");
        Assert.True(SeamScore.ComputeAxes(step).Column > 5 * SeamScore.ComputeAxes(step).Row);
    }

    [Fact]
    public void RollingAPeriodicTexture_KeepsItsScore()
    {
        using var texture = ProceduralTextures.Generate("marble", 256, 4);
        using var rolled = texture.roll([97, 131], [1, 2]);

        var score = SeamScore.Compute(texture);

        Assert.Equal(score, SeamScore.Compute(rolled), score * 0.1);
    }

    [Fact]
    public void TensorScore_EqualsTheWrittenPngScore()
    {
        // 2048 columns: the tensor path scores 64-row bands, the byte path one band, so this also checks band independence.
        var path = _directory.File("score.png");
        using var noise = TestImages.SmoothNoise(2048, 5);
        using var image = noise.narrow(1, 0, 300);
        PngWriter.Write(path, image, PngBitDepth.Eight, "");

        Assert.Equal(SeamScore.Compute(image), SeamScore.FromPng(path));
    }

    [Fact]
    public void RejectsABufferOfTheWrongLength() =>
        Assert.Throws<ArgumentException>(() => SeamScore.Compute(new byte[10], 2, 2));
}
