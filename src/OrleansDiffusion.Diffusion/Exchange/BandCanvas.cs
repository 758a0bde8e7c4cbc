using OrleansDiffusion.Diffusion.Sync;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>A stretch of one window row that the band sync reads: window row <see cref="Y"/> of grid slot
/// <see cref="Slot"/>, columns [X, X + Length), found at <see cref="Band"/> in that tile's upload; it lands on band-canvas
/// cell <see cref="Cell"/>, summed there directly or, where an earlier tile row reaches the same canvas row, first into
/// the tile row's strip at <see cref="Strip"/> (−1: directly), as <see cref="SyncKernels.Accumulate"/> sums.</summary>
internal readonly record struct BandRun(int Slot, int Y, int X, int Length, int Band, int Cell, int Strip);

/// <summary>Band-canvas cells [Cell, Cell + Length): whole canvas rows' band cells.</summary>
internal readonly record struct CellRange(int Cell, int Length);

/// <summary>Canvas row <see cref="Y"/>'s band cells that go through a tile row's strip: band-canvas cells [Cell, Cell + Length)
/// at strip cell <see cref="Strip"/>.</summary>
internal readonly record struct StripRow(int Cell, int Strip, int Length, int Y);

/// <summary>
/// The tile rows split into contiguous chunks that accumulate on threads side by side (<see cref="BandKernels.Attention"/>).
/// A canvas row reached by tile rows of one chunk is summed and divided there, as one thread would; one reached from two
/// chunks (their boundary, or a tileable canvas's wrap) gets its strip sums added and is divided after every chunk is
/// done, in tile-row order, so each of its cells gets the same additions in the same order (the bits do not depend on the
/// chunks). A tile row with such a strip keeps its own strip buffer until then (<see cref="KeepsStrip"/>).
/// </summary>
internal sealed class BandChunks(int[] first, StripRow[][] ownStrips, StripRow[][] sharedStrips, CellRange[][] ownComplete, CellRange[][] sharedComplete)
{
    /// <summary>[chunks + 1] each chunk's first tile row.</summary>
    public int[] First => first;
    public int Count => first.Length - 1;

    /// <summary>Per tile row: the strip rows added within its chunk, and those added after all chunks.</summary>
    public StripRow[][] OwnStrips => ownStrips;
    public StripRow[][] SharedStrips => sharedStrips;

    /// <summary>Per tile row: its <see cref="BandCanvas.Complete"/> cells divided within its chunk, and after all chunks.</summary>
    public CellRange[][] OwnComplete => ownComplete;
    public CellRange[][] SharedComplete => sharedComplete;

    public bool KeepsStrip(int row) => sharedStrips[row].Length > 0;
}

/// <summary>
/// The cells the coordinator's band sync computes (every cell some reply carries: shared cells and context cells), stored
/// compactly as sorted segments per canvas row, and the runs of window rows that sum into them, in the order the
/// whole-canvas sync sums (tile row by tile row, column by column, window row by window row), so the same cells get the
/// same bits with none of the canvas or the other window cells in memory. Coordinator only; built once per plan.
/// </summary>
internal sealed class BandCanvas
{
    private readonly int[] _rowFirst;      // [H + 1] first segment of each canvas row
    private readonly int[] _segmentStart;  // canvas x of each segment's first cell
    private readonly int[] _segmentCell;   // band-canvas index of each segment's first cell (one past the last: Count)
    private readonly int[] _firstRow;      // [H] the first tile row reaching each canvas row (it starts its sums)
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Lazy<BandChunks>> _chunks = new();

    public BandCanvas(SyncGeometry geometry, IReadOnlyList<TileBands> tiles)
    {
        var layout = geometry.Layout;
        var (canvasWidth, canvasHeight) = (layout.CanvasWidth, layout.CanvasHeight);

        var needed = new bool[geometry.CanvasCells];
        foreach (var bands in tiles)
        {
            foreach (var cell in bands.SharedCells) needed[cell] = true;
            foreach (var cell in bands.ContextCells) needed[cell] = true;
        }
        _rowFirst = new int[canvasHeight + 1];
        var starts = new List<int>();
        var cells = new List<int>();
        var count = 0;
        for (var y = 0; y < canvasHeight; y++)
        {
            _rowFirst[y] = starts.Count;
            var row = y * canvasWidth;
            for (var x = 0; x < canvasWidth; x++)
            {
                if (!needed[row + x]) continue;
                if (x == 0 || !needed[row + x - 1])
                {
                    starts.Add(x);
                    cells.Add(count);
                }
                count++;
            }
        }
        _rowFirst[canvasHeight] = starts.Count;
        cells.Add(count);
        (_segmentStart, _segmentCell, Count) = ([.. starts], [.. cells], count);

        var runs = new List<BandRun>();
        var strips = new List<StripRow>[layout.Rows];
        RunFirst = new int[layout.Rows + 1];
        for (var row = 0; row < layout.Rows; row++)
        {
            RunFirst[row] = runs.Count;
            // The strip: the band cells of the canvas rows an earlier tile row already reaches.
            var stripOf = new Dictionary<int, int>();
            strips[row] = [];
            var stripCells = 0;
            for (var y = 0; y < layout.TileHeight; y++)
            {
                if (geometry.FreshRows[row][y]) continue;
                var canvasRow = geometry.CanvasRow(row, y);
                var (first, end) = (RowCell(canvasRow), RowCell(canvasRow + 1));
                stripOf[canvasRow] = stripCells;
                strips[row].Add(new StripRow(first, stripCells, end - first, canvasRow));
                stripCells += end - first;
            }
            StripCells = Math.Max(StripCells, stripCells);
            for (var column = 0; column < layout.Columns; column++)
            {
                var slot = row * layout.Columns + column;
                var sent = SentRows(tiles[geometry.GridToTile[slot]].SendPositions, layout.TileWidth, layout.TileHeight);
                for (var y = 0; y < layout.TileHeight; y++)
                {
                    var canvasRow = geometry.CanvasRow(row, y);
                    int? stripShift = geometry.FreshRows[row][y] ? null : stripOf[canvasRow] - RowCell(canvasRow);
                    foreach (var (offset, start, length) in geometry.ColumnPieces[column])
                        for (var s = _rowFirst[canvasRow]; s < _rowFirst[canvasRow + 1]; s++)
                        {
                            var (from, to) = (Math.Max(start, _segmentStart[s]), Math.Min(start + length, _segmentStart[s] + SegmentLength(s)));
                            if (from >= to) continue;
                            var x = offset + from - start;
                            var band = sent.Find(y, x, to - from)
                                ?? throw new InvalidOperationException($"tile {geometry.GridToTile[slot]} does not send window row {y}, columns {x}..{x + to - from - 1}, which the sync reads");
                            var cell = _segmentCell[s] + from - _segmentStart[s];
                            runs.Add(new BandRun(slot, y, x, to - from, band, cell, stripShift is { } shift ? cell + shift : -1));
                        }
                }
            }
        }
        RunFirst[layout.Rows] = runs.Count;
        Runs = [.. runs];
        Strips = strips;

        var lastRow = LastRow = new int[canvasHeight];
        _firstRow = Enumerable.Repeat(-1, canvasHeight).ToArray();
        for (var row = 0; row < layout.Rows; row++)
            for (var y = 0; y < layout.TileHeight; y++)
            {
                var canvasRow = geometry.CanvasRow(row, y);
                lastRow[canvasRow] = row;
                if (_firstRow[canvasRow] < 0) _firstRow[canvasRow] = row;
            }
        Fresh = new CellRange[layout.Rows][];
        Complete = new CellRange[layout.Rows][];
        Ready = new int[layout.Rows];
        for (var row = 0; row < layout.Rows; row++)
        {
            var rows = Enumerable.Range(0, layout.TileHeight).Select(y => geometry.CanvasRow(row, y)).ToArray();
            Fresh[row] = Ranges(rows.Where((_, y) => geometry.FreshRows[row][y]));
            Complete[row] = Ranges(Enumerable.Range(0, canvasHeight).Where(y => lastRow[y] == row));
            Ready[row] = rows.Max(y => lastRow[y]);
        }
    }

    /// <summary>The tile rows in <paramref name="count"/> contiguous chunks of about equal numbers of runs (built once per
    /// count, then kept).</summary>
    public BandChunks Chunks(int count) => _chunks.GetOrAdd(count, c => new Lazy<BandChunks>(() => Split(c))).Value;

    private BandChunks Split(int count)
    {
        var rows = Strips.Length;
        var first = new int[count + 1];
        for (var k = 1; k < count; k++)
        {
            // The first row whose runs start past k/count of all runs, at least one row per chunk.
            var target = (long)Runs.Length * k / count;
            var row = first[k - 1] + 1;
            while (row < rows - (count - k) && RunFirst[row] < target) row++;
            first[k] = row;
        }
        first[count] = rows;
        var chunkOf = new int[rows];
        for (var k = 0; k < count; k++)
            for (var row = first[k]; row < first[k + 1]; row++) chunkOf[row] = k;
        // A canvas row is shared when the tile rows reaching it (the first one, which starts its sums, and those whose strips
        // hold it) lie in more than one chunk.
        var shared = new bool[_firstRow.Length];
        for (var row = 0; row < rows; row++)
            foreach (var strip in Strips[row])
                if (chunkOf[row] != chunkOf[_firstRow[strip.Y]]) shared[strip.Y] = true;
        var ownStrips = new StripRow[rows][];
        var sharedStrips = new StripRow[rows][];
        var ownComplete = new CellRange[rows][];
        var sharedComplete = new CellRange[rows][];
        for (var row = 0; row < rows; row++)
        {
            ownStrips[row] = [.. Strips[row].Where(s => !shared[s.Y])];
            sharedStrips[row] = [.. Strips[row].Where(s => shared[s.Y])];
            var completed = Enumerable.Range(0, LastRow.Length).Where(y => LastRow[y] == row).ToArray();
            ownComplete[row] = Ranges(completed.Where(y => !shared[y]));
            sharedComplete[row] = Ranges(completed.Where(y => shared[y]));
        }
        return new BandChunks(first, ownStrips, sharedStrips, ownComplete, sharedComplete);
    }

    /// <summary>The band cells of these canvas rows, consecutive rows merged.</summary>
    private CellRange[] Ranges(IEnumerable<int> canvasRows)
    {
        var ranges = new List<CellRange>();
        foreach (var y in canvasRows.Order())
        {
            var (first, end) = (RowCell(y), RowCell(y + 1));
            if (first == end) continue;
            if (ranges.Count > 0 && ranges[^1].Cell + ranges[^1].Length == first) ranges[^1] = ranges[^1] with { Length = end - ranges[^1].Cell };
            else ranges.Add(new CellRange(first, end - first));
        }
        return [.. ranges];
    }

    /// <summary>Band cells.</summary>
    public int Count { get; }

    /// <summary>Every run, tile row by tile row (<see cref="RunFirst"/>), in summation order.</summary>
    public BandRun[] Runs { get; }
    public int[] RunFirst { get; }

    /// <summary>Per tile row: the band cells of the canvas rows it reaches first (an accumulation starts them there), and of
    /// the canvas rows no later tile row reaches (their sums are complete once it is added).</summary>
    public CellRange[][] Fresh { get; }
    public CellRange[][] Complete { get; }

    /// <summary>Per canvas row: the last tile row that reaches it (its band cells are final once that tile row is added).</summary>
    public int[] LastRow { get; }

    /// <summary>Per tile row: the last tile row that reaches any of its canvas rows (once that one is added, the sums at
    /// every cell of this tile row's windows are complete).</summary>
    public int[] Ready { get; }

    /// <summary>Per tile row, its strip's rows; <see cref="StripCells"/>: the largest strip.</summary>
    public IReadOnlyList<StripRow>[] Strips { get; }
    public int StripCells { get; }

    /// <summary>The band-canvas index of canvas cell <paramref name="cell"/> (y·W + x).</summary>
    public int IndexOf(int cell, int canvasWidth)
    {
        var (y, x) = Math.DivRem(cell, canvasWidth);
        var (low, high) = (_rowFirst[y], _rowFirst[y + 1] - 1);
        while (low < high)
        {
            var middle = (low + high + 1) / 2;
            if (_segmentStart[middle] <= x) low = middle; else high = middle - 1;
        }
        if (low > high || x < _segmentStart[low] || x >= _segmentStart[low] + SegmentLength(low))
            throw new ArgumentOutOfRangeException(nameof(cell), $"canvas cell {cell} is not a band cell");
        return _segmentCell[low] + x - _segmentStart[low];
    }

    /// <summary>The band-canvas index of the first band cell of canvas row <paramref name="y"/> (or of the next one).</summary>
    private int RowCell(int y) => _segmentCell[_rowFirst[y]];

    private int SegmentLength(int segment) => _segmentCell[segment + 1] - _segmentCell[segment];

    /// <summary>A window's sent positions as runs per window row.</summary>
    private sealed class SentRuns(int[] first, int[] x, int[] band)
    {
        /// <summary>Where window row y, columns [x, x + length) sit in the upload (null where not all of them were sent).</summary>
        public int? Find(int y, int column, int length)
        {
            for (var r = first[y]; r < first[y + 1]; r++)
            {
                var runLength = band[r + 1] - band[r];
                if (column >= x[r] && column + length <= x[r] + runLength) return band[r] + column - x[r];
            }
            return null;
        }
    }

    private static SentRuns SentRows(int[] positions, int width, int height)
    {
        var first = new int[height + 1];
        var xs = new List<int>();
        var bands = new List<int>();
        var row = 0;
        for (var i = 0; i < positions.Length; i++)
        {
            var (y, x) = Math.DivRem(positions[i], width);
            while (row < y) first[++row] = xs.Count;
            if (i == 0 || positions[i - 1] != positions[i] - 1 || positions[i - 1] / width != y)
            {
                xs.Add(x);
                bands.Add(i);
            }
        }
        while (row < height) first[++row] = xs.Count;
        bands.Add(positions.Length);
        return new SentRuns(first, [.. xs], [.. bands]);
    }
}
