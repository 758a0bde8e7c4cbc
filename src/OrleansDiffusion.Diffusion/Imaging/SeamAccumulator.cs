namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Accumulates the seam score's column and row difference sums over bands of interleaved RGB rows,
/// so images of any size are scored in one streaming pass. Luminance is kept as the exact integer
/// 1000·L = 299R + 587G + 114B, which makes the sums independent of band size and thread scheduling.</summary>
internal sealed class SeamAccumulator
{
    private readonly int _width;
    private readonly int _height;
    private readonly int _partitions = Environment.ProcessorCount;
    private readonly long[][] _columnSums;
    private readonly long[] _rowSums;
    private readonly int[] _luma;
    private int _rowsSeen;

    public SeamAccumulator(int width, int height, int maxBandRows)
    {
        _width = width;
        _height = height;
        _columnSums = Enumerable.Range(0, _partitions).Select(_ => new long[Math.Max(width - 1, 0)]).ToArray();
        _rowSums = new long[Math.Max(height - 1, 0)];
        _luma = new int[(maxBandRows + 1) * width]; // Row 0 holds the previous band's last row.
    }

    /// <summary>Adds the next <paramref name="rows"/> image rows, stored as interleaved RGB bytes.</summary>
    public void AddRows(byte[] rgb, int rows)
    {
        var width = _width;
        Parallel.For(0, rows, r =>
        {
            var source = rgb.AsSpan(r * width * 3, width * 3);
            var luma = _luma.AsSpan((r + 1) * width, width);
            for (var x = 0; x < width; x++)
            {
                luma[x] = 299 * source[3 * x] + 587 * source[3 * x + 1] + 114 * source[3 * x + 2];
            }
        });

        var firstRow = _rowsSeen;
        Parallel.For(0, _partitions, p =>
        {
            var columnSums = _columnSums[p];
            for (var r = rows * p / _partitions; r < rows * (p + 1) / _partitions; r++)
            {
                var luma = _luma.AsSpan((r + 1) * width, width);
                for (var x = 0; x < width - 1; x++)
                {
                    columnSums[x] += Math.Abs(luma[x + 1] - luma[x]);
                }

                if (firstRow + r > 0)
                {
                    var above = _luma.AsSpan(r * width, width);
                    long sum = 0;
                    for (var x = 0; x < width; x++)
                    {
                        sum += Math.Abs(luma[x] - above[x]);
                    }

                    _rowSums[firstRow + r - 1] = sum;
                }
            }
        });

        _luma.AsSpan(rows * width, width).CopyTo(_luma);
        _rowsSeen += rows;
    }

    /// <summary>Column and row scores (max / median of the mean absolute luminance differences) once every
    /// row has been added; an axis with no differences, or only zero ones, scores 0.</summary>
    public (double Column, double Row) Scores()
    {
        if (_rowsSeen != _height)
        {
            throw new InvalidOperationException($"Only {_rowsSeen} of {_height} rows were added.");
        }

        var columns = new double[_columnSums[0].Length];
        foreach (var partition in _columnSums)
        {
            for (var x = 0; x < columns.Length; x++)
            {
                columns[x] += partition[x];
            }
        }

        return (Score(columns, 1000.0 * _height), Score(_rowSums.Select(s => (double)s).ToArray(), 1000.0 * _width));
    }

    private static double Score(double[] sums, double divisor)
    {
        if (sums.Length == 0)
        {
            return 0;
        }

        var max = sums.Max() / divisor;
        Array.Sort(sums);
        var middle = sums.Length / 2;
        var median = (sums.Length % 2 == 1 ? sums[middle] : (sums[middle - 1] + sums[middle]) / 2) / divisor;
        return max / Math.Max(median, 1e-9);
    }
}
