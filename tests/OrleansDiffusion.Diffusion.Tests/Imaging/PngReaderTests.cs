using OrleansDiffusion.Diffusion.Imaging;
using StbImageSharp;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

public sealed class PngReaderTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    public void UndoesEveryRowFilter(int bitDepth)
    {
        // Rows cycle through None, Sub, Up, Average, Paeth; Stb decodes the same file independently.
        const int Width = 13, Height = 10;
        var path = _directory.File("filters.png");
        var raw = new byte[Width * Height * 3 * bitDepth / 8];
        new Random(5).NextBytes(raw);

        TestImages.WriteRawPng(path, Width, Height, 2, (byte)bitDepth, raw, y => (PngFilterType)(y % 5));

        var samples = PngReader.ReadRgb16(path);
        var expected = bitDepth == 8
            ? raw.Select(b => (ushort)b).ToArray()
            : Enumerable.Range(0, raw.Length / 2).Select(i => (ushort)(raw[2 * i] << 8 | raw[2 * i + 1])).ToArray();
        Assert.Equal(expected, samples);
        using var stream = File.OpenRead(path);
        Assert.Equal(samples.Select(s => (byte)(bitDepth == 8 ? s : s >> 8)), ImageResult.FromStream(stream, ColorComponents.RedGreenBlue).Data);
    }

    [Fact]
    public void DetectsACorruptedChunk()
    {
        var path = _directory.File("corrupt.png");
        using var image = TestImages.SmoothNoise(32, 1);
        PngWriter.Write(path, image, PngBitDepth.Eight, "p");
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length - 20] ^= 0x40; // Inside the last IDAT chunk.
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidImageException>(() => PngReader.ReadRgb16(path));

        Assert.Contains("'IDAT' fails its CRC check", error.Message);
        Assert.Equal(path, error.Path);
    }

    [Fact]
    public void RejectsLayoutsItDoesNotDecode()
    {
        var path = _directory.File("grey.png");
        TestImages.WriteRawPng(path, 2, 2, 0, 8, [1, 2, 3, 4], _ => PngFilterType.None);

        Assert.Equal((2, 2, 8), PngReader.ReadHeader(path));
        Assert.Contains("colour type 0", Assert.Throws<InvalidImageException>(() => PngReader.ReadRgb16(path)).Message);
    }
}
