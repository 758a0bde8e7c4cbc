using System.Runtime.CompilerServices;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// A layout's gather/accumulate maps, built once per layout and cached with it. Windows form a grid (column starts
/// <c>xs</c>, row starts <c>ys</c>), so windows in grid order are accumulated onto the canvas in two passes: each tile
/// column adds its windows into per-row strips, then each strip adds into the canvas (row by row). Every cell sums its
/// contributions in the same order whatever the index space (the canvas, a zero-filled band buffer, one lone window), so
/// these give bit-identical results for the cells they share. The sync modes run that order as loops
/// (<see cref="SyncKernels.Accumulate"/>); <see cref="Accumulate(Tensor, Tensor?)"/> is the same as tensor ops (the
/// cached totals, tests). Crops are views of the (padded) canvas.
/// </summary>
internal sealed class SyncGeometry
{
    private static readonly ConditionalWeakTable<TileLayout, SyncGeometry> Cache = new();
    private static readonly Dictionary<(int Height, int Width), TileLayout> LoneLayouts = [];
    private readonly Lock _lock = new();
    private readonly Dictionary<int, Tensor> _crops = [];
    private readonly Dictionary<double, float[]> _spatial = [];
    private readonly int[] _xs;
    private readonly int[] _ys;
    private int[]? _windowCells;
    private int[]? _coverage;
    private Tensor? _counts;
    private Tensor? _gaussian;
    private Tensor? _gaussianTotal;
    private float[]? _gaussianValues;
    private float[]? _gaussianTotalValues;
    private float[]? _countValues;

    private SyncGeometry(TileLayout layout)
    {
        Layout = layout;
        GridToTile = new int[layout.Count];
        TileToGrid = new int[layout.Count];
        _xs = new int[layout.Columns];
        _ys = new int[layout.Rows];
        for (var i = 0; i < layout.Count; i++)
        {
            var window = layout.Windows[i];
            GridToTile[window.Row * layout.Columns + window.Column] = i;
            _xs[window.Column] = window.X;
            _ys[window.Row] = window.Y;
        }
        for (var slot = 0; slot < GridToTile.Length; slot++) TileToGrid[GridToTile[slot]] = slot;
        ColumnPieces = Array.ConvertAll(_xs, x => Spans(x, layout.TileWidth, layout.CanvasWidth).ToArray());
        RowPieces = Array.ConvertAll(_ys, y => Spans(y, layout.TileHeight, layout.CanvasHeight).ToArray());
        FreshRows = new bool[layout.Rows][];
        var reached = new bool[layout.CanvasHeight];
        for (var row = 0; row < layout.Rows; row++)
        {
            FreshRows[row] = new bool[layout.TileHeight];
            for (var y = 0; y < layout.TileHeight; y++)
            {
                var canvasRow = CanvasRow(row, y);
                FreshRows[row][y] = !reached[canvasRow];
                reached[canvasRow] = true;
            }
        }
    }

    public static SyncGeometry Of(TileLayout layout) => Cache.GetValue(layout, l => new SyncGeometry(l));

    /// <summary>The geometry of one h×w window alone on its own canvas: how a tile computes its own cells exactly as the
    /// coordinator would where no other window reaches.</summary>
    public static SyncGeometry Lone(int height, int width)
    {
        TileLayout layout;
        lock (LoneLayouts)
        {
            if (!LoneLayouts.TryGetValue((height, width), out layout!))
                LoneLayouts[(height, width)] = layout = TileLayout.Plan(width, height, Math.Max(width, height), 0, wrap: false);
        }
        return Of(layout);
    }

    public TileLayout Layout { get; }
    public int CanvasCells => Layout.CanvasWidth * Layout.CanvasHeight;
    public int WindowCells => Layout.TileWidth * Layout.TileHeight;

    /// <summary>Grid slot (row · columns + column) → position of that window in the layout's list, and back.</summary>
    public int[] GridToTile { get; }
    public int[] TileToGrid { get; }

    /// <summary>[T·h·w] canvas cell of each window cell, grid-major (built on first use: the band exchange, no-sync
    /// stitching need it, the canvas modes do not).</summary>
    public int[] WindowCellsOf
    {
        get
        {
            lock (_lock)
            {
                if (_windowCells is null)
                {
                    var cells = new int[Layout.Count * WindowCells];
                    for (var slot = 0; slot < Layout.Count; slot++) CropCells(GridToTile[slot], 0).CopyTo(cells, slot * WindowCells);
                    _windowCells = cells;
                }
                return _windowCells;
            }
        }
    }

    /// <summary>How many windows contain each canvas cell.</summary>
    public int[] Coverage
    {
        get
        {
            var cells = WindowCellsOf;
            lock (_lock)
            {
                if (_coverage is null)
                {
                    var coverage = new int[CanvasCells];
                    foreach (var cell in cells) coverage[cell]++;
                    _coverage = coverage;
                }
                return _coverage;
            }
        }
    }

    /// <summary>[1, H, W] windows covering each cell (the uniform weights' total).</summary>
    public Tensor Counts => Lazy(ref _counts, () =>
    {
        using var ones = TorchSharp.torch.ones(1, Layout.Count, Layout.TileHeight, Layout.TileWidth);
        return Accumulate(ones);
    });

    /// <summary>[1, 1, h, w] the window Gaussian (Mixture of Diffusers), broadcast over channels and tiles.</summary>
    public Tensor Gaussian => Lazy(ref _gaussian, () =>
    {
        using var g = WindowGaussian(Layout);
        return g.view(1, 1, Layout.TileHeight, Layout.TileWidth);
    });

    /// <summary>[1, H, W] Σ of the Gaussian weights of the windows covering each cell.</summary>
    public Tensor GaussianTotal => Lazy(ref _gaussianTotal, () =>
    {
        using var weights = Gaussian.expand(1, Layout.Count, -1, -1);
        return Accumulate(weights);
    });

    /// <summary>Per tile column (row): the window's span on the canvas in pieces that do not wrap (offset in the window,
    /// start on the canvas, length).</summary>
    public (int Offset, int Start, int Length)[][] ColumnPieces { get; }
    public (int Offset, int Start, int Length)[][] RowPieces { get; }

    /// <summary>Per tile row and window row: whether no earlier window row (of this or an earlier tile row) reaches the
    /// same canvas row.</summary>
    public bool[][] FreshRows { get; }

    /// <summary>The canvas row of window row <paramref name="y"/> in tile row <paramref name="row"/>.</summary>
    public int CanvasRow(int row, int y) => (_ys[row] + y) % Layout.CanvasHeight;

    /// <summary><see cref="Gaussian"/>, <see cref="GaussianTotal"/> and <see cref="Counts"/> as floats (for <see cref="SyncKernels"/>).</summary>
    public float[] GaussianValues => LazyValues(ref _gaussianValues, () => Gaussian);
    public float[] GaussianTotalValues => LazyValues(ref _gaussianTotalValues, () => GaussianTotal);
    public float[] CountValues => LazyValues(ref _countValues, () => Counts);

    /// <summary>[C, T, h, w]: the proposals (listed in layout order) stacked in grid order (one copy).</summary>
    public Tensor Stack(IReadOnlyList<Tensor> proposals)
    {
        var ordered = new Tensor[proposals.Count];
        for (var slot = 0; slot < ordered.Length; slot++) ordered[slot] = proposals[GridToTile[slot]];
        return stack(ordered, 1);
    }

    /// <summary>[M, H, W] Σ over windows of <paramref name="values"/> [M, T, h, w] (grid order), placed at each window:
    /// tile columns into row strips, then row strips into the canvas (wrapping windows in up to two pieces per axis).</summary>
    /// <param name="weights">null, or [1, T, h, w] / [1, 1, h, w] weights multiplied in column by column (the product
    /// is the same element-wise multiply as weighting everything first, but each column's stays in cache).</param>
    public Tensor Accumulate(Tensor values, Tensor? weights = null)
    {
        using var scope = NewDisposeScope();
        var layout = Layout;
        var (height, width) = (layout.TileHeight, layout.TileWidth);
        var channels = values.shape[0];
        var grid = values.view(channels, layout.Rows, layout.Columns, height, width);
        var weightGrid = weights is null ? null
            : weights.shape[1] == 1 ? weights.view(weights.shape[0], 1, 1, height, width)
            : weights.view(weights.shape[0], layout.Rows, layout.Columns, height, width);
        var strips = zeros(channels, layout.Rows, height, layout.CanvasWidth);
        for (var column = 0; column < layout.Columns; column++)
        {
            using var columnScope = NewDisposeScope();
            var windows = grid.select(2, column);                                   // [M, R, h, w]
            if (weightGrid is not null) windows = windows * weightGrid.select(2, weightGrid.shape[2] == 1 ? 0 : column);
            foreach (var (offset, start, length) in Spans(_xs[column], width, layout.CanvasWidth))
                strips.narrow(3, start, length).AddInPlace(windows.narrow(3, offset, length));
        }
        var canvas = zeros(channels, layout.CanvasHeight, layout.CanvasWidth);
        for (var row = 0; row < layout.Rows; row++)
        {
            var strip = strips.select(1, row);                                        // [M, h, W]
            foreach (var (offset, start, length) in Spans(_ys[row], height, layout.CanvasHeight))
                canvas.narrow(1, start, length).AddInPlace(strip.narrow(1, offset, length));
        }
        return canvas.MoveToOuterDisposeScope();
    }

    /// <summary>Every tile's window plus <paramref name="context"/> cells of the canvas [C, H, W] around it, in layout
    /// order, as views: the canvas is padded once (mirrored, or wrapped on a tileable canvas, as
    /// <see cref="TileLayout.AxisIndices"/> maps coordinates) and each crop is a rectangle of it, so no window is copied
    /// here (a payload copies once when it is serialised). Layouts too small to pad that way gather through
    /// <see cref="CropIndex"/> instead.</summary>
    public Tensor[] Crops(Tensor canvas, int context)
    {
        using var scope = NewDisposeScope();
        var layout = Layout;
        var (height, width) = (layout.TileHeight + 2 * context, layout.TileWidth + 2 * context);
        var (right, bottom) = layout.Wrap ? (layout.TileWidth + context, layout.TileHeight + context) : (context, context);
        var mirrored = !layout.Wrap && context < layout.CanvasWidth && context < layout.CanvasHeight;
        var wrapped = layout.Wrap && right <= layout.CanvasWidth && bottom <= layout.CanvasHeight && context <= Math.Min(layout.CanvasWidth, layout.CanvasHeight);
        var crops = new Tensor[layout.Count];
        if (mirrored || wrapped)
        {
            var padded = context == 0 && !layout.Wrap
                ? canvas.alias()
                : nn.functional.pad(canvas.unsqueeze(0), [context, right, context, bottom],
                    layout.Wrap ? TorchSharp.PaddingModes.Circular : TorchSharp.PaddingModes.Reflect).squeeze(0);
            for (var t = 0; t < crops.Length; t++)
            {
                var window = layout.Windows[t];
                crops[t] = padded.narrow(1, window.Y, height).narrow(2, window.X, width).MoveToOuterDisposeScope();
            }
            return crops;
        }
        var index = CropIndex(context);
        var channels = canvas.shape[0];
        var flat = canvas.view(channels, -1);
        var rows = new Tensor[channels];
        for (var c = 0; c < channels; c++) rows[c] = flat[c].index_select(0, index);
        var all = stack(rows).view(channels, layout.Count, height, width);
        for (var t = 0; t < crops.Length; t++) crops[t] = all.select(1, t).MoveToOuterDisposeScope();
        return crops;
    }

    /// <summary>[h·w] the window Gaussian (Mixture of Diffusers), row-major.</summary>
    public static Tensor WindowGaussian(TileLayout layout)
    {
        using var gy = Gaussian1D(layout.TileHeight);
        using var gx = Gaussian1D(layout.TileWidth);
        return gy.unsqueeze(1).mul(gx.unsqueeze(0)).view(-1);
    }

    /// <summary>The canvas cell of every position of window <paramref name="tile"/> (layout order) plus
    /// <paramref name="context"/> cells on each side, row-major; beyond the canvas edge mirrored (torch "reflect") or wrapped.</summary>
    public int[] CropCells(int tile, int context)
    {
        var layout = Layout;
        var window = layout.Windows[tile];
        var rows = TileLayout.AxisIndices(window.Y - context, window.Height + 2 * context, layout.CanvasHeight, layout.Wrap);
        var columns = TileLayout.AxisIndices(window.X - context, window.Width + 2 * context, layout.CanvasWidth, layout.Wrap);
        var cells = new int[rows.Length * columns.Length];
        var k = 0;
        foreach (var row in rows)
            foreach (var column in columns)
                cells[k++] = (int)(row * layout.CanvasWidth + column);
        return cells;
    }

    /// <summary>[T·(h + 2c)·(w + 2c)] <see cref="CropCells"/> of every tile, layout order.</summary>
    public Tensor CropIndex(int context)
    {
        lock (_lock)
        {
            if (_crops.TryGetValue(context, out var index)) return index;
            var size = (Layout.TileHeight + 2 * context) * (Layout.TileWidth + 2 * context);
            var cells = new int[Layout.Count * size];
            for (var t = 0; t < Layout.Count; t++) CropCells(t, context).CopyTo(cells, t * size);
            return _crops[context] = Keep(Index(cells));
        }
    }

    /// <summary>[T·T] the spatial bias −d²/(2s²) between tile centres in grid order (s: <paramref name="scale"/> × the
    /// canvas diagonal).</summary>
    public float[] SpatialBias(double scale)
    {
        lock (_lock)
        {
            if (_spatial.TryGetValue(scale, out var bias)) return bias;
            var layout = Layout;
            var count = layout.Count;
            var spatial = new float[count * count];
            var length = scale * Math.Sqrt((double)layout.CanvasWidth * layout.CanvasWidth + (double)layout.CanvasHeight * layout.CanvasHeight);
            for (var i = 0; i < count; i++)
                for (var j = 0; j < count; j++)
                {
                    var (a, b) = (layout.Windows[GridToTile[i]], layout.Windows[GridToTile[j]]);
                    var dx = Distance(a.CenterX, b.CenterX, layout.CanvasWidth, layout.Wrap);
                    var dy = Distance(a.CenterY, b.CenterY, layout.CanvasHeight, layout.Wrap);
                    spatial[i * count + j] = (float)(-(dx * dx + dy * dy) / (2 * length * length));
                }
            return _spatial[scale] = spatial;
        }
    }

    /// <summary>An int64 index tensor (what index_select and index_copy_ take).</summary>
    public static Tensor Index(int[] cells) => tensor(Array.ConvertAll(cells, c => (long)c));

    /// <summary>A window span [start, start + length) on an axis of <paramref name="size"/>, split where it wraps:
    /// (offset in the window, start on the canvas, length).</summary>
    private static IEnumerable<(int Offset, int Start, int Length)> Spans(int start, int length, int size)
    {
        var offset = 0;
        while (offset < length)
        {
            var canvasStart = (start + offset) % size;
            var run = Math.Min(length - offset, size - canvasStart);
            yield return (offset, canvasStart, run);
            offset += run;
        }
    }

    private static double Distance(double a, double b, int size, bool wrap)
    {
        var d = Math.Abs(a - b);
        return wrap ? Math.Min(d, size - d) : d;
    }

    private static Tensor Gaussian1D(int length)
    {
        var mid = (length - 1) / 2.0;
        var values = Enumerable.Range(0, length)
            .Select(x => (float)Math.Exp(-Math.Pow((x - mid) / length, 2) / (2 * WeightedAverageSync.GaussianVariance)))
            .ToArray();
        return tensor(values);
    }

    private Tensor Lazy(ref Tensor? field, Func<Tensor> build)
    {
        lock (_lock) return field ??= Keep(build());
    }

    private float[] LazyValues(ref float[]? field, Func<Tensor> source)
    {
        if (Volatile.Read(ref field) is { } values) return values;
        var tensor = source();
        lock (_lock) return field ??= SyncKernels.Floats(tensor).ToArray();
    }

    /// <summary>Cached tensors outlive whatever dispose scope the first sync step runs in.</summary>
    private static Tensor Keep(Tensor tensor) => tensor.DetachFromDisposeScope();
}
