using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>The layout-agnostic seam score (DESIGN §9): on luminance L = 0.299R + 0.587G + 0.114B, let
/// g(x) be the mean over rows of |L(x+1, y) − L(x, y)|; the column score is max g / median g, likewise for
/// rows, and the score is the larger. A hard tile seam shows as one spike far above the texture's own value.</summary>
public static class SeamScore
{
    private const int BandBytes = 4 << 20;

    /// <summary>Scores interleaved 8-bit RGB pixels, rows top to bottom.</summary>
    public static double Compute(ReadOnlySpan<byte> rgb8, int width, int height)
    {
        var (column, row) = ComputeAxes(rgb8, width, height);
        return Math.Max(column, row);
    }

    /// <summary>Scores a [3, H, W] float image in [-1, 1] quantized exactly as the 8-bit <see cref="PngWriter"/>
    /// path does, so it equals <see cref="FromPng"/> of the file written from it.</summary>
    public static double Compute(Tensor image)
    {
        var (column, row) = ComputeAxes(image);
        return Math.Max(column, row);
    }

    /// <summary>Scores a PNG file decoded to 8-bit RGB (16-bit files keep the high byte of each sample, so only
    /// 8-bit files score exactly like the tensor they were written from).</summary>
    public static double FromPng(string path)
    {
        var image = ImageLoader.DecodeRgb8(path, int.MaxValue);
        return Compute(image.Data, image.Width, image.Height);
    }

    /// <summary>The column score (vertical seams) and row score (horizontal seams) separately.</summary>
    public static (double Column, double Row) ComputeAxes(ReadOnlySpan<byte> rgb8, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var rowBytes = checked(width * 3);
        if (rgb8.Length != (long)rowBytes * height)
        {
            throw new ArgumentException($"Expected {(long)rowBytes * height} bytes for {width}x{height} RGB, got {rgb8.Length}.", nameof(rgb8));
        }

        // Bands are copied into an array because the parallel kernel cannot capture a span.
        var bandRows = Math.Clamp(BandBytes / rowBytes, 1, height);
        var accumulator = new SeamAccumulator(width, height, bandRows);
        var band = new byte[bandRows * rowBytes];
        for (var y = 0; y < height; y += bandRows)
        {
            var rows = Math.Min(bandRows, height - y);
            rgb8.Slice(y * rowBytes, rows * rowBytes).CopyTo(band);
            accumulator.AddRows(band, rows);
        }

        return accumulator.Scores();
    }

    /// <inheritdoc cref="ComputeAxes(ReadOnlySpan{byte}, int, int)"/>
    public static (double Column, double Row) ComputeAxes(Tensor image)
    {
        using var reader = new RgbBandReader(image);
        var rowBytes = reader.Width * 3;
        var accumulator = new SeamAccumulator(reader.Width, reader.Height, reader.BandRows);
        var band = new byte[reader.BandRows * rowBytes];
        for (var y = 0; y < reader.Height;)
        {
            var rows = reader.Load(y);
            for (var r = 0; r < rows; r++)
            {
                reader.QuantizeRow8(r, band.AsSpan(r * rowBytes, rowBytes));
            }

            accumulator.AddRows(band, rows);
            y += rows;
        }

        return accumulator.Scores();
    }
}
