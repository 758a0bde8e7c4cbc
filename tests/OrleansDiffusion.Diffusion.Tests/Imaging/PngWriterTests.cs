using System.Text;
using OrleansDiffusion.Diffusion.Imaging;
using StbImageSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

public sealed class PngWriterTests : IDisposable
{
    // Column values and their 8/16-bit codes under "clamp, then round half up of (v + 1) / 2 · max".
    private static readonly float[] Values = [-3f, -1f, -0.5f, 0f, 0.25f, 0.5f, 1f, 2f, float.NaN];
    private static readonly byte[] Expected8 = [0, 0, 64, 128, 159, 191, 255, 255, 0];
    private static readonly byte[] ExpectedNegated8 = [255, 255, 191, 128, 96, 64, 0, 0, 0];
    private static readonly ushort[] Expected16 = [0, 0, 16384, 32768, 40959, 49151, 65535, 65535, 0];

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void EightBit_DecodesWithStb_ToExactBytes()
    {
        var path = _directory.File("eight.png");
        using var image = KnownImage();

        PngWriter.Write(path, image, PngBitDepth.Eight, "steps: 20");

        using var stream = File.OpenRead(path);
        var decoded = ImageResult.FromStream(stream, ColorComponents.RedGreenBlue);
        Assert.Equal((Values.Length, 2), (decoded.Width, decoded.Height));
        for (var y = 0; y < 2; y++)
        {
            for (var x = 0; x < Values.Length; x++)
            {
                var pixel = decoded.Data.AsSpan((y * Values.Length + x) * 3, 3).ToArray();
                Assert.Equal(new[] { Expected8[x], ExpectedNegated8[x], y == 0 ? (byte)128 : (byte)255 }, pixel);
            }
        }

        Assert.Equal((Values.Length, 2, 8), PngReader.ReadHeader(path));
    }

    [Fact]
    public void SixteenBit_StoresExactBigEndianSamples()
    {
        var path = _directory.File("sixteen.png");
        using var image = KnownImage();

        PngWriter.Write(path, image, PngBitDepth.Sixteen, "x");

        Assert.Equal((Values.Length, 2, 16), PngReader.ReadHeader(path));
        var samples = PngReader.ReadRgb16(path);
        for (var x = 0; x < Values.Length; x++)
        {
            Assert.Equal(Expected16[x], samples[3 * x]);
            Assert.Equal((ushort)32768, samples[3 * x + 2]);
            Assert.Equal((ushort)65535, samples[(Values.Length + x) * 3 + 2]);
        }

        // Stb reduces 16-bit samples to their high byte: an independent check of the framing.
        using var stream = File.OpenRead(path);
        var decoded = ImageResult.FromStream(stream, ColorComponents.RedGreenBlue);
        Assert.Equal(samples.Select(s => (byte)(s >> 8)), decoded.Data);
    }

    [Theory]
    [InlineData("seed: 42\nsteps: 30, sampler: ddim", "tEXt")]
    [InlineData("café crème, 100° ±5", "tEXt")]
    [InlineData("猫 on a roof 🐱, naïve", "iTXt")]
    [InlineData("", "tEXt")]
    public void Parameters_ReadBack_FromTheRightChunkBeforeImageData(string parameters, string chunkType)
    {
        var path = _directory.File("text.png");
        using var image = KnownImage();

        PngWriter.Write(path, image, PngBitDepth.Eight, parameters);

        Assert.Equal(parameters, PngReader.ReadText(path, "parameters"));
        Assert.Null(PngReader.ReadText(path, "Comment"));
        var bytes = Encoding.Latin1.GetString(File.ReadAllBytes(path));
        var chunk = bytes.IndexOf(chunkType + "parameters\0", StringComparison.Ordinal);
        Assert.InRange(chunk, 0, bytes.IndexOf("IDAT", StringComparison.Ordinal));
    }

    [Fact]
    public void ManyBandsAndIdatChunks_DecodeToTheQuantizedTensor()
    {
        // 64-row bands leave a partial last band; random 16-bit data cannot compress below two 256 KiB chunks.
        const int Width = 300, Height = 150;
        var path = _directory.File("bands.png");
        using var generator = new Generator(7);
        using var image = rand([3, Height, Width], generator: generator) * 2.2 - 1.1;

        PngWriter.Write(path, image, PngBitDepth.Sixteen, "bands");

        var expected = image.permute(1, 2, 0).contiguous().data<float>().ToArray().Select(RgbBandReader.To16);
        Assert.Equal(expected, PngReader.ReadRgb16(path));
        var fileText = Encoding.Latin1.GetString(File.ReadAllBytes(path));
        Assert.True(CountOf(fileText, "IDAT") >= 2);
    }

    [Fact]
    public void StreamOverload_WritesTheSameBytesAndLeavesTheStreamOpen()
    {
        var path = _directory.File("file.png");
        using var image = TestImages.SmoothNoise(64, 3);
        using var memory = new MemoryStream();

        PngWriter.Write(path, image, PngBitDepth.Eight, "same");
        PngWriter.Write(memory, image, PngBitDepth.Eight, "same");

        Assert.True(memory.CanWrite);
        Assert.Equal(File.ReadAllBytes(path), memory.ToArray());
    }

    [Fact]
    public void NonContiguousImage_WritesLikeItsContiguousCopy()
    {
        using var generator = new Generator(9);
        using var interleaved = rand([70, 33, 3], generator: generator) * 2 - 1;
        using var view = interleaved.permute(2, 0, 1);
        using var copy = view.contiguous();
        using var fromView = new MemoryStream();
        using var fromCopy = new MemoryStream();

        PngWriter.Write(fromView, view, PngBitDepth.Sixteen, "");
        PngWriter.Write(fromCopy, copy, PngBitDepth.Sixteen, "");

        Assert.False(view.is_contiguous());
        Assert.Equal(fromCopy.ToArray(), fromView.ToArray());
    }

    [Fact]
    public void RejectsImagesOutsideTheContract()
    {
        using var memory = new MemoryStream();
        using var fourChannels = zeros(4, 8, 8);
        using var flat = zeros(3, 8);
        using var doubles = zeros([3, 8, 8], ScalarType.Float64);
        using var good = zeros(3, 8, 8);

        Assert.Throws<ArgumentException>(() => PngWriter.Write(memory, fourChannels, PngBitDepth.Eight, ""));
        Assert.Throws<ArgumentException>(() => PngWriter.Write(memory, flat, PngBitDepth.Eight, ""));
        Assert.Throws<ArgumentException>(() => PngWriter.Write(memory, doubles, PngBitDepth.Eight, ""));
        Assert.Throws<ArgumentException>(() => PngWriter.Write(memory, good, PngBitDepth.Eight, "nul\0inside"));
        Assert.Throws<ArgumentOutOfRangeException>(() => PngWriter.Write(memory, good, (PngBitDepth)12, ""));
        Assert.Equal(0, memory.Length);
    }

    /// <summary>Red = Values[x]; green = −Values[x]; blue = 0 on row 0 and 1 on row 1.</summary>
    private static Tensor KnownImage() =>
        TestImages.Build(Values.Length, 2, (c, y, x) => c switch { 0 => Values[x], 1 => -Values[x], _ => y });

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
