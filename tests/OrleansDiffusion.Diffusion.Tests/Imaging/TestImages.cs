using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

internal static class TestImages
{
    /// <summary>A float32 [3, H, W] tensor with value(channel, y, x).</summary>
    public static Tensor Build(int width, int height, Func<int, int, int, float> value)
    {
        var data = new float[3 * width * height];
        for (var c = 0; c < 3; c++)
        {
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    data[(c * height + y) * width + x] = value(c, y, x);
                }
            }
        }

        return tensor(data, [3, height, width]);
    }

    /// <summary>Smooth, non-periodic noise: a low-resolution random image upsampled bilinearly.</summary>
    public static Tensor SmoothNoise(int size, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var coarse = rand([1, 3, size / 16, size / 16], generator: generator) * 1.6 - 0.8;
        using var fine = nn.functional.interpolate(coarse, [size, size], mode: InterpolationMode.Bilinear, align_corners: true);
        return fine.squeeze(0).contiguous();
    }

    /// <summary>Writes a PNG of any colour type from raw (unfiltered) sample bytes, filtering each row with the
    /// given filter: lets tests feed the reader and loader layouts <see cref="PngWriter"/> never produces.</summary>
    public static void WriteRawPng(string path, int width, int height, byte colourType, byte bitDepth, byte[] raw, Func<int, PngFilterType> filterForRow)
    {
        var channels = colourType switch { 0 => 1, 2 => 3, 4 => 2, 6 => 4, _ => throw new ArgumentOutOfRangeException(nameof(colourType)) };
        var bytesPerPixel = channels * bitDepth / 8;
        var rowBytes = width * bytesPerPixel;
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            var prior = new byte[rowBytes];
            var filtered = new byte[rowBytes];
            for (var y = 0; y < height; y++)
            {
                var row = raw.AsSpan(y * rowBytes, rowBytes);
                var filter = filterForRow(y);
                PngFilter.Apply(filter, row, prior, bytesPerPixel, filtered);
                zlib.WriteByte((byte)filter);
                zlib.Write(filtered);
                row.CopyTo(prior);
            }
        }

        using var file = System.IO.File.Create(path);
        file.Write(PngFormat.Signature);
        PngFormat.WriteChunk(file, "IHDR"u8, PngFormat.Header(width, height, bitDepth, colourType));
        PngFormat.WriteChunk(file, "IDAT"u8, compressed.ToArray());
        PngFormat.WriteChunk(file, "IEND"u8, []);
    }
}
