using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

public sealed class ImageLoaderTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(0, new byte[] { 0, 255 }, new byte[] { 0, 0, 0, 255, 255, 255 })]
    [InlineData(4, new byte[] { 10, 0, 200, 255 }, new byte[] { 10, 10, 10, 200, 200, 200 })]
    [InlineData(2, new byte[] { 1, 2, 3, 4, 5, 6 }, new byte[] { 1, 2, 3, 4, 5, 6 })]
    [InlineData(6, new byte[] { 1, 2, 3, 0, 4, 5, 6, 255 }, new byte[] { 1, 2, 3, 4, 5, 6 })]
    public void AnyEightBitLayout_BecomesRgbWithAlphaIgnored(byte colourType, byte[] samples, byte[] expectedRgb)
    {
        var path = _directory.File("two-pixels.png");
        TestImages.WriteRawPng(path, 2, 1, colourType, 8, samples, _ => PngFilterType.Sub);

        using var image = ImageLoader.LoadRgb(path);

        Assert.Equal(new long[] { 3, 1, 2 }, image.shape);
        var expected = new float[6];
        for (var i = 0; i < 6; i++)
        {
            expected[i] = expectedRgb[(i % 2) * 3 + i / 2] / 127.5f - 1f; // Planar [c, y, x] from interleaved pixels.
        }

        Assert.Equal(expected, image.data<float>().ToArray());
    }

    [Fact]
    public void WrittenBytes_SurviveALoadAndRewrite()
    {
        var first = _directory.File("first.png");
        var second = _directory.File("second.png");
        using var generator = new Generator(3);
        using var original = rand([3, 40, 50], generator: generator) * 2 - 1;
        PngWriter.Write(first, original, PngBitDepth.Eight, "");

        using var loaded = ImageLoader.LoadRgb(first);
        PngWriter.Write(second, loaded, PngBitDepth.Eight, "");

        Assert.Equal(PngReader.ReadRgb16(first), PngReader.ReadRgb16(second));
        Assert.True(loaded.min().item<float>() >= -1f && loaded.max().item<float>() <= 1f);
    }

    [Fact]
    public void MissingFile() => AssertRejected(_directory.File("nope.png"), "does not exist");

    [Fact]
    public void GarbageBytes()
    {
        var path = _directory.File("garbage.png");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        AssertRejected(path, "not a PNG file");
    }

    [Fact]
    public void TruncatedImageData()
    {
        var path = _directory.File("truncated.png");
        using var image = TestImages.SmoothNoise(64, 2);
        PngWriter.Write(path, image, PngBitDepth.Eight, "");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        AssertRejected(path, "cannot be decoded");
    }

    [Fact]
    public void TooLarge()
    {
        var path = _directory.File("wide.png");
        using var image = zeros(3, 1, ImageLoader.MaxSide + 1);
        PngWriter.Write(path, image, PngBitDepth.Eight, "");
        AssertRejected(path, "4097x1; at most 4096x4096");
    }

    [Fact]
    public void ZeroSize()
    {
        var path = _directory.File("empty.png");
        using (var file = File.Create(path))
        {
            file.Write(PngFormat.Signature);
            PngFormat.WriteChunk(file, "IHDR"u8, PngFormat.Header(0, 5, 8, 2));
            PngFormat.WriteChunk(file, "IEND"u8, []);
        }

        AssertRejected(path, "zero size");
    }

    private static void AssertRejected(string path, string rule)
    {
        var error = Assert.Throws<InvalidImageException>(() => ImageLoader.LoadRgb(path));
        Assert.Contains(path, error.Message);
        Assert.Contains(rule, error.Message);
        Assert.Equal(path, error.Path);
    }
}
