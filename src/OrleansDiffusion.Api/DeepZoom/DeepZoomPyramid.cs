using System.Globalization;

namespace OrleansDiffusion.Api.DeepZoom;

/// <summary>
/// Builds a Deep Zoom pyramid (<c>image.dzi</c> + <c>image_files/&lt;level&gt;/&lt;column&gt;_&lt;row&gt;.png</c>, no
/// tile overlap) from a PNG in one pass over its rows. Each level keeps one band of tile-height rows and the pending row
/// of its 2×2 box downsampling, so memory is about two bands of the full-width image whatever its height.
/// </summary>
public static class DeepZoomPyramid
{
    public const string DescriptorName = "image.dzi";
    public const string TilesFolder = "image_files";

    /// <summary>The highest level: the smallest n with 2ⁿ ≥ the image's longer side.</summary>
    public static int MaxLevel(int width, int height)
    {
        var side = Math.Max(width, height);
        var level = 0;
        while ((1L << level) < side) level++;
        return level;
    }

    /// <summary>Writes the pyramid of <paramref name="png"/> into <paramref name="directory"/>; the descriptor last.</summary>
    /// <returns>The number of levels.</returns>
    public static int Build(string png, string directory, int tileSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tileSize, 16);
        using var reader = new PngRowReader(File.OpenRead(png));
        var maxLevel = MaxLevel(reader.Width, reader.Height);
        var levels = new LevelWriter[maxLevel + 1];
        for (var level = 0; level <= maxLevel; level++)
        {
            var scale = 1L << (maxLevel - level);
            var w = (int)((reader.Width + scale - 1) / scale);
            var h = (int)((reader.Height + scale - 1) / scale);
            var folder = Path.Combine(directory, TilesFolder, level.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(folder);
            var smaller = level - 1;
            levels[level] = new LevelWriter(folder, w, h, reader.Channels, tileSize, level == 0 ? null : () => levels[smaller]);
        }
        var row = new byte[reader.Width * reader.Channels];
        for (var y = 0; y < reader.Height; y++)
        {
            reader.ReadRow(row);
            levels[maxLevel].Add(row);
        }
        var descriptor = Path.Combine(directory, DescriptorName);
        var temporary = descriptor + ".tmp";
        File.WriteAllText(temporary, Descriptor(reader.Width, reader.Height, tileSize));
        File.Move(temporary, descriptor, overwrite: true);
        return maxLevel + 1;
    }

    public static string Descriptor(int width, int height, int tileSize) =>
        string.Create(CultureInfo.InvariantCulture,
            $"""<?xml version="1.0" encoding="UTF-8"?><Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="png" Overlap="0" TileSize="{tileSize}"><Size Width="{width}" Height="{height}"/></Image>""");

    /// <summary>One level: collects rows into a band, writes the band's tiles when it is full, and feeds the next
    /// smaller level with 2×2 box averages (a lone last row or column is averaged with itself).</summary>
    private sealed class LevelWriter(string folder, int width, int height, int channels, int tileSize, Func<LevelWriter>? smaller)
    {
        private readonly byte[] _band = new byte[tileSize * width * channels];
        private readonly int _rowBytes = width * channels;
        private byte[]? _pending;
        private int _rows;
        private int _bandRows;

        public void Add(ReadOnlySpan<byte> row)
        {
            row[.._rowBytes].CopyTo(_band.AsSpan(_bandRows * _rowBytes));
            _bandRows++;
            _rows++;
            if (_bandRows == tileSize || _rows == height) FlushBand();
            if (smaller is null) return;
            var last = _rows == height;
            if (_pending is null && !last)
            {
                _pending = row[.._rowBytes].ToArray();
                return;
            }
            var above = _pending is null ? row : _pending;
            smaller().Add(Downsample(above, row));
            _pending = null;
        }

        private byte[] Downsample(ReadOnlySpan<byte> above, ReadOnlySpan<byte> below)
        {
            var half = (width + 1) / 2;
            var result = new byte[half * channels];
            for (var x = 0; x < half; x++)
            {
                var x0 = 2 * x * channels;
                var x1 = Math.Min(2 * x + 1, width - 1) * channels;
                for (var c = 0; c < channels; c++)
                    result[x * channels + c] = (byte)((above[x0 + c] + above[x1 + c] + below[x0 + c] + below[x1 + c] + 2) >> 2);
            }
            return result;
        }

        private void FlushBand()
        {
            var bandIndex = (_rows - 1) / tileSize;
            for (int column = 0, x = 0; x < width; column++, x += tileSize)
            {
                var tileWidth = Math.Min(tileSize, width - x);
                var name = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{column}_{bandIndex}.png"));
                using var file = new FileStream(name, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                PngEncoder.Write(file, _band.AsSpan(x * channels), tileWidth, _bandRows, channels, _rowBytes);
            }
            _bandRows = 0;
        }
    }
}
