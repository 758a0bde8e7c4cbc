using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Diffusion.Tiling;

/// <summary>
/// Splits a canvas into equally sized, overlapping windows. Every pixel is covered; edge windows keep
/// their full size and are shifted inward (all windows share one shape, so a device can batch them).
/// On a wrapping canvas windows continue past the right/bottom edge and cover it modulo the size.
/// </summary>
public sealed class TileLayout
{
    private TileLayout(TileLayout source, IReadOnlyList<TileWindow> windows)
    {
        (CanvasWidth, CanvasHeight, TileWidth, TileHeight, Wrap, Rows, Columns) =
            (source.CanvasWidth, source.CanvasHeight, source.TileWidth, source.TileHeight, source.Wrap, source.Rows, source.Columns);
        Windows = windows;
    }

    private TileLayout(int width, int height, int tileWidth, int tileHeight, bool wrap, int[] xs, int[] ys)
    {
        CanvasWidth = width;
        CanvasHeight = height;
        TileWidth = tileWidth;
        TileHeight = tileHeight;
        Wrap = wrap;
        Columns = xs.Length;
        Rows = ys.Length;
        var windows = new TileWindow[xs.Length * ys.Length];
        for (var r = 0; r < ys.Length; r++)
            for (var c = 0; c < xs.Length; c++)
                windows[r * xs.Length + c] = new TileWindow(r * xs.Length + c, r, c, xs[c], ys[r], tileWidth, tileHeight);
        Windows = windows;
    }

    public int CanvasWidth { get; }
    public int CanvasHeight { get; }
    public int TileWidth { get; }
    public int TileHeight { get; }
    public bool Wrap { get; }
    public int Rows { get; }
    public int Columns { get; }
    public IReadOnlyList<TileWindow> Windows { get; }
    public int Count => Windows.Count;

    /// <summary>The same windows listed in another order (tests use it to check order independence).</summary>
    internal TileLayout Reordered(IReadOnlyList<int> order) => new(this, order.Select(i => Windows[i]).ToArray());

    /// <summary>Plans the windows of a validated job (user input is checked once, at the edge, by
    /// <see cref="JobSpecValidator"/>); arguments outside the layout's own preconditions are a programming error.</summary>
    public static TileLayout Plan(int width, int height, int tile, int overlap, bool wrap)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tile);
        ArgumentOutOfRangeException.ThrowIfNegative(overlap);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(overlap, tile);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)width * height, JobSpec.MaxPixels, nameof(width));

        var tileWidth = Math.Min(tile, width);
        var tileHeight = Math.Min(tile, height);
        return new TileLayout(width, height, tileWidth, tileHeight, wrap,
            Positions(width, tileWidth, overlap, wrap), Positions(height, tileHeight, overlap, wrap));
    }

    /// <summary>Window starts along one axis.</summary>
    internal static int[] Positions(int size, int tile, int overlap, bool wrap)
    {
        if (tile >= size) return [0];
        var stride = tile - overlap;
        if (wrap)
        {
            // Windows march around the torus; the last one wraps onto the first.
            var count = (size + stride - 1) / stride;
            return Enumerable.Range(0, count).Select(i => i * stride).ToArray();
        }

        var n = (size - tile + stride - 1) / stride + 1;
        var positions = new int[n];
        for (var i = 0; i < n - 1; i++) positions[i] = i * stride;
        positions[n - 1] = size - tile; // the last window is shifted inward to stay full size
        return positions;
    }

    /// <summary>Canvas coordinates of <paramref name="length"/> samples starting at <paramref name="start"/>:
    /// wrapped on a tileable canvas, mirrored (torch "reflect") beyond the edges otherwise.</summary>
    public static long[] AxisIndices(int start, int length, int size, bool wrap)
    {
        var indices = new long[length];
        for (var i = 0; i < length; i++) indices[i] = MapCoordinate(start + i, size, wrap);
        return indices;
    }

    public static int MapCoordinate(int coordinate, int size, bool wrap)
    {
        if (wrap) return ((coordinate % size) + size) % size;
        if (size == 1) return 0;
        var period = 2 * (size - 1);
        var m = ((coordinate % period) + period) % period;
        return m < size ? m : period - m;
    }
}
