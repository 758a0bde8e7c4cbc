using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>
/// Which window cells a tile shares or must send, and which cells it reads as context, from per-axis tables: a layout
/// is a grid of row spans × column spans, so a cell's coverage is (windows of its row) × (windows of its column), and it
/// is read as context when more crops than windows reach it. No table the size of the canvas exists, and a process
/// works out the bands of the tiles it hosts only.
/// </summary>
internal sealed class BandMembership
{
    private readonly TileLayout _layout;
    private readonly int _context;
    private readonly int[][] _windowRows, _windowColumns, _cropRows, _cropColumns;   // per tile row (column): canvas rows (columns)
    private readonly bool[][] _inWindowRow, _inWindowColumn;                       // per tile row (column): canvas row (column) → in its window
    private readonly int[] _rowWindows, _columnWindows, _rowCrops, _columnCrops;   // per canvas row (column): windows (crops) of the tile rows (columns) reaching it
    private readonly int[][] _ownedRows, _ownedColumns;                            // per tile row (column): window positions it delivers in the image

    public BandMembership(TileLayout layout, int context)
    {
        (_layout, _context) = (layout, context);
        var (rowStarts, columnStarts) = (new int[layout.Rows], new int[layout.Columns]);
        foreach (var window in layout.Windows) (rowStarts[window.Row], columnStarts[window.Column]) = (window.Y, window.X);
        (_windowRows, _cropRows, _inWindowRow, _rowWindows, _rowCrops) = Axis(rowStarts, layout.TileHeight, layout.CanvasHeight);
        (_windowColumns, _cropColumns, _inWindowColumn, _columnWindows, _columnCrops) = Axis(columnStarts, layout.TileWidth, layout.CanvasWidth);
        _ownedRows = Owners(_windowRows, layout.CanvasHeight);
        _ownedColumns = Owners(_windowColumns, layout.CanvasWidth);
    }

    /// <summary>The part of the image tile <paramref name="tile"/> delivers after the last step (see <see cref="OwnedCells"/>).</summary>
    public OwnedCells Owned(int tile)
    {
        var window = _layout.Windows[tile];
        var (rows, columns) = (_ownedRows[window.Row], _ownedColumns[window.Column]);
        var (windowRows, windowColumns) = (_windowRows[window.Row], _windowColumns[window.Column]);
        return new OwnedCells(tile, rows, columns, Array.ConvertAll(rows, y => windowRows[y]), Array.ConvertAll(columns, x => windowColumns[x]));
    }

    /// <summary>Per window row (column): the positions along the axis whose canvas row (column) no earlier window covers,
    /// so every canvas row (column) has exactly one owner.</summary>
    private static int[][] Owners(int[][] windows, int size)
    {
        var owned = new bool[size];
        return Array.ConvertAll(windows, window =>
        {
            var positions = new List<int>();
            for (var p = 0; p < window.Length; p++)
                if (!owned[window[p]])
                {
                    owned[window[p]] = true;
                    positions.Add(p);
                }
            return positions.ToArray();
        });
    }

    /// <summary>Tile <paramref name="tile"/>'s bands (see <see cref="TileBands"/>).</summary>
    public TileBands Of(int tile)
    {
        var window = _layout.Windows[tile];
        var (rows, columns) = (_windowRows[window.Row], _windowColumns[window.Column]);
        var canvasWidth = _layout.CanvasWidth;
        var send = new List<int>();
        var sharedCells = new List<int>();
        var sharedPositions = new List<int>();
        for (var y = 0; y < rows.Length; y++)
            for (var x = 0; x < columns.Length; x++)
            {
                var (row, column) = (rows[y], columns[x]);
                var windows = _rowWindows[row] * _columnWindows[column];
                var shared = windows > 1;
                if (shared || _rowCrops[row] * _columnCrops[column] > windows) send.Add(y * columns.Length + x);
                if (!shared) continue;
                sharedCells.Add(row * canvasWidth + column);
                sharedPositions.Add(y * columns.Length + x);
            }
        var context = new List<int>();
        var contextPositions = new List<int>();
        var seen = new HashSet<int>();
        var (inRow, inColumn) = (_inWindowRow[window.Row], _inWindowColumn[window.Column]);
        var (cropRows, cropColumns) = (_cropRows[window.Row], _cropColumns[window.Column]);
        for (var y = 0; y < cropRows.Length; y++)
            for (var x = 0; x < cropColumns.Length; x++)
            {
                var (row, column) = (cropRows[y], cropColumns[x]);
                if (inRow[row] && inColumn[column] || !seen.Add(row * canvasWidth + column)) continue;
                context.Add(row * canvasWidth + column);
                contextPositions.Add(y * cropColumns.Length + x);
            }
        return new TileBands(tile, [.. send], [.. sharedCells], [.. sharedPositions], [.. context], [.. contextPositions]);
    }

    private (int[][] Windows, int[][] Crops, bool[][] InWindow, int[] WindowCount, int[] CropCount) Axis(int[] starts, int length, int size)
    {
        var wrap = _layout.Wrap;
        var windows = Array.ConvertAll(starts, s => Array.ConvertAll(TileLayout.AxisIndices(s, length, size, wrap), i => (int)i));
        var crops = Array.ConvertAll(starts, s => Array.ConvertAll(TileLayout.AxisIndices(s - _context, length + 2 * _context, size, wrap), i => (int)i));
        var inWindow = Array.ConvertAll(windows, w => Members(w, size));
        var windowCount = new int[size];
        var cropCount = new int[size];
        for (var i = 0; i < starts.Length; i++)
        {
            foreach (var (member, index) in inWindow[i].Select((m, index) => (m, index))) windowCount[index] += member ? 1 : 0;
            foreach (var (member, index) in Members(crops[i], size).Select((m, index) => (m, index))) cropCount[index] += member ? 1 : 0;
        }
        return (windows, crops, inWindow, windowCount, cropCount);
    }

    private static bool[] Members(int[] indices, int size)
    {
        var members = new bool[size];
        foreach (var i in indices) members[i] = true;
        return members;
    }
}
