using System.Runtime.CompilerServices;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>PNG row filtering and its inverse. Both directions share one predictor so the writer and the
/// reader cannot disagree about what a filter means.</summary>
internal static class PngFilter
{
    /// <summary>Filters <paramref name="raw"/> into <paramref name="filtered"/>; <paramref name="prior"/> is the
    /// previous row's raw bytes (all zero for the first row), <paramref name="bytesPerPixel"/> at least 1.</summary>
    public static void Apply(PngFilterType type, ReadOnlySpan<byte> raw, ReadOnlySpan<byte> prior, int bytesPerPixel, Span<byte> filtered)
    {
        for (var i = 0; i < raw.Length; i++)
        {
            var left = i >= bytesPerPixel ? raw[i - bytesPerPixel] : (byte)0;
            var upLeft = i >= bytesPerPixel ? prior[i - bytesPerPixel] : (byte)0;
            filtered[i] = (byte)(raw[i] - Predict(type, left, prior[i], upLeft));
        }
    }

    /// <summary>Reverses <see cref="Apply"/> in place: <paramref name="row"/> holds filtered bytes on entry and
    /// raw bytes on return.</summary>
    public static void Undo(PngFilterType type, Span<byte> row, ReadOnlySpan<byte> prior, int bytesPerPixel)
    {
        for (var i = 0; i < row.Length; i++)
        {
            var left = i >= bytesPerPixel ? row[i - bytesPerPixel] : (byte)0;
            var upLeft = i >= bytesPerPixel ? prior[i - bytesPerPixel] : (byte)0;
            row[i] = (byte)(row[i] + Predict(type, left, prior[i], upLeft));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Predict(PngFilterType type, byte left, byte up, byte upLeft) => type switch
    {
        PngFilterType.None => 0,
        PngFilterType.Sub => left,
        PngFilterType.Up => up,
        PngFilterType.Average => (left + up) >> 1,
        PngFilterType.Paeth => Paeth(left, up, upLeft),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown PNG filter type."),
    };

    /// <summary>The Paeth predictor exactly as the PNG spec (section 9.4) defines it, ties included.</summary>
    private static int Paeth(int left, int up, int upLeft)
    {
        var estimate = left + up - upLeft;
        var distanceLeft = Math.Abs(estimate - left);
        var distanceUp = Math.Abs(estimate - up);
        var distanceUpLeft = Math.Abs(estimate - upLeft);
        if (distanceLeft <= distanceUp && distanceLeft <= distanceUpLeft)
        {
            return left;
        }

        return distanceUp <= distanceUpLeft ? up : upLeft;
    }
}
