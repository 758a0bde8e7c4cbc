using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// Every grid slot's window [C, h, w] as float planes: one stacked [C, T, h, w] tensor or one [C, h, w] tensor per slot
/// (the coordinator's proposals, read in place instead of stacked). Sources are CPU float32 and contiguous (converted
/// here when they are not; the copies live in the caller's dispose scope, so use the planes inside it).
/// </summary>
internal sealed class WindowPlanes
{
    private readonly Tensor[] _sources;
    private readonly bool _stacked;

    private WindowPlanes(Tensor[] sources, bool stacked, int channels, int count, int size, Device device) =>
        (_sources, _stacked, Channels, Count, Size, Device) = (sources, stacked, channels, count, size, device);

    /// <summary>Windows stacked as [C, T, h, w] (grid order).</summary>
    public static WindowPlanes Stacked(Tensor values) =>
        new([SyncKernels.Cpu(values)], true, (int)values.shape[0], (int)values.shape[1], (int)(values.numel() / Math.Max(1, values.shape[0] * values.shape[1])), values.device);

    /// <summary>The proposals [C, h, w] (listed in layout order) taken in grid order, without copying them.</summary>
    public static WindowPlanes Of(SyncGeometry geometry, IReadOnlyList<Tensor> proposals)
    {
        var sources = new Tensor[proposals.Count];
        for (var slot = 0; slot < sources.Length; slot++) sources[slot] = SyncKernels.Cpu(proposals[geometry.GridToTile[slot]]);
        return new(sources, false, (int)proposals[0].shape[0], sources.Length, geometry.WindowCells, proposals[0].device);
    }

    public int Channels { get; }
    public int Count { get; }

    /// <summary>Cells of one plane (h·w).</summary>
    public int Size { get; }

    /// <summary>Where the windows came from (results go back there).</summary>
    public Device Device { get; }

    /// <summary>The floats holding <paramref name="slot"/>'s planes: plane c starts at offset + c·stride.</summary>
    public ReadOnlySpan<float> Slot(int slot, out int offset, out int stride)
    {
        if (_stacked)
        {
            (offset, stride) = (slot * Size, Count * Size);
            return SyncKernels.Floats(_sources[0]);
        }
        (offset, stride) = (0, Size);
        return SyncKernels.Floats(_sources[slot]);
    }
}

/// <summary>The contributions of one window row to a canvas accumulation (see <see cref="SyncKernels.Accumulate"/>).</summary>
internal interface IWindowRows
{
    /// <summary>Planes accumulated at once (channels, plus a weight total where one is accumulated alongside).</summary>
    int Planes { get; }

    /// <summary>Writes the contributions of window row <paramref name="y"/> of grid slot <paramref name="slot"/>:
    /// <paramref name="rows"/> holds <see cref="Planes"/> rows of w values. Called slot by slot in grid order, each slot's
    /// rows in order.</summary>
    void Fill(int slot, int y, Span<float> rows);

    /// <summary>Adds the same contributions straight onto <paramref name="target"/>: plane m's row at
    /// m·<paramref name="plane"/> + <paramref name="start"/> (a window that does not wrap across the canvas edge).</summary>
    void AddTo(int slot, int y, Span<float> target, int start, int plane);
}

/// <summary>
/// The sync arithmetic as plain vectorised loops over float spans, all tiles in one pass and window row by window row,
/// so the data stays in cache between the steps of a formula instead of making one trip through memory per tensor op.
/// Every element gets the same IEEE operations in the same order as the tensor formulation
/// (<see cref="SyncGeometry.Accumulate"/>: a tile row's windows summed column by column into a strip, strips summed into
/// the canvas row by row), so it does not matter how many windows share a call: a lone window, a zero-filled band stack and
/// the whole canvas give the same bits for the cells they share.
/// </summary>
internal static class SyncKernels
{
    private static readonly int Width = Vector<float>.Count;

    /// <summary>The tensor as CPU float32, contiguous (itself when it already is).</summary>
    public static Tensor Cpu(Tensor tensor)
    {
        if (tensor.device_type == TorchSharp.DeviceType.CPU && tensor.dtype == ScalarType.Float32 && tensor.is_contiguous()) return tensor;
        // Held until contiguous() returns: TorchSharp frees a collected temporary on the finalizer thread, even mid-call.
        using var moved = tensor.to(ScalarType.Float32, CPU);
        return moved.contiguous();
    }

    /// <summary>The floats of a CPU float32 contiguous tensor, in place.</summary>
    public static Span<float> Floats(Tensor tensor) => MemoryMarshal.Cast<byte, float>(tensor.bytes);

    /// <summary>canvas [M, H, W] += Σ over windows of the rows <paramref name="source"/> fills, placed at each window
    /// (wrapping windows in pieces), in <see cref="SyncGeometry.Accumulate"/>'s order: a tile row's windows column by
    /// column into a strip, the strip into the canvas. A canvas row that no earlier window row reaches is its own strip
    /// (0 + s = s: a strip sum is never −0), so only rows where tile rows overlap go through a separate strip.
    /// The canvas must start zeroed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate<T>(SyncGeometry geometry, scoped ref T source, Span<float> canvas)
        where T : IWindowRows, allows ref struct
    {
        var layout = geometry.Layout;
        var (height, width, canvasWidth) = (layout.TileHeight, layout.TileWidth, layout.CanvasWidth);
        var planes = source.Planes;
        var plane = layout.CanvasHeight * canvasWidth;
        var stripPlane = height * canvasWidth;
        var stripBuffer = ScratchFloats.Rent(planes * stripPlane);
        var rowBuffer = ScratchFloats.Rent(planes * width);
        try
        {
            var strip = stripBuffer.AsSpan(0, planes * stripPlane);
            var rows = rowBuffer.AsSpan(0, planes * width);
            for (var row = 0; row < layout.Rows; row++)
            {
                var fresh = geometry.FreshRows[row];
                for (var y = 0; y < height; y++)
                    if (!fresh[y])
                        for (var m = 0; m < planes; m++) strip.Slice(m * stripPlane + y * canvasWidth, canvasWidth).Clear();
                for (var column = 0; column < layout.Columns; column++)
                {
                    var slot = row * layout.Columns + column;
                    var pieces = geometry.ColumnPieces[column];
                    for (var y = 0; y < height; y++)
                    {
                        var target = fresh[y] ? canvas : strip;
                        var (targetPlane, line) = fresh[y] ? (plane, geometry.CanvasRow(row, y) * canvasWidth) : (stripPlane, y * canvasWidth);
                        if (pieces.Length == 1)
                        {
                            source.AddTo(slot, y, target, line + pieces[0].Start, targetPlane);
                            continue;
                        }
                        source.Fill(slot, y, rows);
                        for (var m = 0; m < planes; m++)
                        {
                            var values = rows.Slice(m * width, width);
                            foreach (var (offset, start, length) in pieces)
                                Add(target.Slice(m * targetPlane + line + start, length), values.Slice(offset, length));
                        }
                    }
                }
                for (var y = 0; y < height; y++)
                    if (!fresh[y])
                        for (var m = 0; m < planes; m++)
                            Add(canvas.Slice(m * plane + geometry.CanvasRow(row, y) * canvasWidth, canvasWidth),
                                strip.Slice(m * stripPlane + y * canvasWidth, canvasWidth));
            }
        }
        finally
        {
            ScratchFloats.Return(stripBuffer);
            ScratchFloats.Return(rowBuffer);
        }
    }

    /// <summary>Reads <paramref name="canvas"/> [H·W] at window row <paramref name="y"/> of grid slot (row, column) into
    /// <paramref name="target"/> [w].</summary>
    public static void Gather(SyncGeometry geometry, int row, int column, int y, ReadOnlySpan<float> canvas, Span<float> target)
    {
        var canvasWidth = geometry.Layout.CanvasWidth;
        var line = canvas.Slice(geometry.CanvasRow(row, y) * canvasWidth, canvasWidth);
        foreach (var (offset, start, length) in geometry.ColumnPieces[column])
            line.Slice(start, length).CopyTo(target.Slice(offset, length));
    }

    /// <summary>Window row <paramref name="y"/> of grid slot (row, column) in <paramref name="canvas"/> [H·W]: a slice of it
    /// where the row does not wrap, else gathered into <paramref name="scratch"/> [w].</summary>
    public static ReadOnlySpan<float> Row(SyncGeometry geometry, int row, int column, int y, ReadOnlySpan<float> canvas, Span<float> scratch)
    {
        var pieces = geometry.ColumnPieces[column];
        if (pieces.Length == 1) return canvas.Slice(geometry.CanvasRow(row, y) * geometry.Layout.CanvasWidth + pieces[0].Start, pieces[0].Length);
        var gathered = scratch[..geometry.Layout.TileWidth];
        Gather(geometry, row, column, y, canvas, gathered);
        return gathered;
    }

    /// <summary><see cref="Pool"/> of every plane [h, w] of <paramref name="planes"/>, one after another, into
    /// <paramref name="cells"/> ([rows, columns] per plane; as many planes as <paramref name="cells"/> holds).</summary>
    public static void PoolPlanes(ReadOnlySpan<float> planes, int height, int width, int rows, int columns, Span<float> cells)
    {
        var (size, cellCount) = (height * width, rows * columns);
        var scratch = new float[width];
        for (var p = 0; p < cells.Length / cellCount; p++)
            Pool(planes.Slice(p * size, size), height, width, rows, columns, cells.Slice(p * cellCount, cellCount), scratch);
    }

    /// <summary>Per-tile cell means (adaptive average pooling: cell i spans [⌊i·n/cells⌋, ⌈(i + 1)·n/cells⌉)) of one plane
    /// [h, w] into <paramref name="cells"/> [rows, columns]; <paramref name="scratch"/> holds w floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pool(ReadOnlySpan<float> plane, int height, int width, int rows, int columns, Span<float> cells, Span<float> scratch)
    {
        for (var i = 0; i < rows; i++)
        {
            var (top, bottom) = (i * height / rows, ((i + 1) * height + rows - 1) / rows);
            plane.Slice(top * width, width).CopyTo(scratch);
            for (var y = top + 1; y < bottom; y++) Add(scratch, plane.Slice(y * width, width));
            for (var j = 0; j < columns; j++)
            {
                var (left, right) = (j * width / columns, ((j + 1) * width + columns - 1) / columns);
                var sum = 0f;
                for (var x = left; x < right; x++) sum += scratch[x];
                cells[i * columns + j] = sum / ((bottom - top) * (right - left));
            }
        }
    }

    /// <summary>Mean and unbiased spread of one plane (two passes: the mean, then the centred sum of squares).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (float Mean, float Spread) Statistics(ReadOnlySpan<float> plane)
    {
        var n = plane.Length;
        var vectors = n - n % Width;
        var sum = Vector<float>.Zero;
        for (var i = 0; i < vectors; i += Width) sum += new Vector<float>(plane.Slice(i));
        var total = Vector.Sum(sum);
        for (var i = vectors; i < n; i++) total += plane[i];
        var mean = total / n;
        var centre = new Vector<float>(mean);
        var squares = Vector<float>.Zero;
        for (var i = 0; i < vectors; i += Width)
        {
            var d = new Vector<float>(plane.Slice(i)) - centre;
            squares += d * d;
        }
        var squared = Vector.Sum(squares);
        for (var i = vectors; i < n; i++)
        {
            var d = plane[i] - mean;
            squared += d * d;
        }
        return (mean, MathF.Sqrt(squared / Math.Max(1, n - 1)));
    }

    /// <summary>target += values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Span<float> target, ReadOnlySpan<float> values)
    {
        Check(values, target);
        var i = 0;
        for (; i <= target.Length - Width; i += Width) Store(Load(target, i) + Load(values, i), target, i);
        for (; i < target.Length; i++) target[i] += values[i];
    }

    /// <summary>target /= values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Divide(Span<float> target, ReadOnlySpan<float> values)
    {
        Check(values, target);
        var i = 0;
        for (; i <= target.Length - Width; i += Width) Store(Load(target, i) / Load(values, i), target, i);
        for (; i < target.Length; i++) target[i] /= values[i];
    }

    /// <summary>values = e^values, element by element with one vector function (the last partial vector padded), so a
    /// value's result never depends on where it sits in the span: the band sync exponentiates a subset of the cells the
    /// whole-canvas sync does and must get the same bits (torch's exp takes a scalar path at each chunk's tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Exp(Span<float> values)
    {
        var i = 0;
        for (; i <= values.Length - Width; i += Width) Store(Vector.Exp(Load(values, i)), values, i);
        if (i == values.Length) return;
        Span<float> tail = stackalloc float[Width];
        tail.Clear();
        values[i..].CopyTo(tail);
        Store(Vector.Exp(Load(tail, 0)), tail, 0);
        tail[..(values.Length - i)].CopyTo(values[i..]);
    }

    /// <summary>target = a · b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Product(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> target)
    {
        Check(a, target);
        Check(b, target);
        var i = 0;
        for (; i <= target.Length - Width; i += Width) Store(Load(a, i) * Load(b, i), target, i);
        for (; i < target.Length; i++) target[i] = a[i] * b[i];
    }

    /// <summary>target = a·wa + b·wb (one bilinear step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Lerp(ReadOnlySpan<float> a, float wa, ReadOnlySpan<float> b, float wb, Span<float> target)
    {
        Check(a, target);
        Check(b, target);
        var (va, vb) = (new Vector<float>(wa), new Vector<float>(wb));
        var i = 0;
        for (; i <= target.Length - Width; i += Width) Store(Load(a, i) * va + Load(b, i) * vb, target, i);
        for (; i < target.Length; i++) target[i] = a[i] * wa + b[i] * wb;
    }

    /// <summary>target = tone(values) · weight: the tone correction ((v − mean)·scale + mean) + shift where
    /// <paramref name="tone"/> is given, the product where <paramref name="weight"/> is not empty (target may be values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transform(ReadOnlySpan<float> values, Tone? tone, ReadOnlySpan<float> weight, Span<float> target)
    {
        Check(values, target);
        var weighted = !weight.IsEmpty;
        if (weighted) Check(weight, target);
        var i = 0;
        if (tone is var (mean, scale, shift))
        {
            var (m, s, b) = (new Vector<float>(mean), new Vector<float>(scale), new Vector<float>(shift));
            if (weighted)
            {
                for (; i <= target.Length - Width; i += Width) Store(((Load(values, i) - m) * s + m + b) * Load(weight, i), target, i);
                for (; i < target.Length; i++) target[i] = ((values[i] - mean) * scale + mean + shift) * weight[i];
            }
            else
            {
                for (; i <= target.Length - Width; i += Width) Store((Load(values, i) - m) * s + m + b, target, i);
                for (; i < target.Length; i++) target[i] = (values[i] - mean) * scale + mean + shift;
            }
        }
        else if (weighted) Product(values, weight, target);
        else values[..target.Length].CopyTo(target);
    }

    /// <summary>target += tone(values) · weight (see <see cref="Transform"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddTransformed(ReadOnlySpan<float> values, Tone? tone, ReadOnlySpan<float> weight, Span<float> target)
    {
        Check(values, target);
        var weighted = !weight.IsEmpty;
        if (weighted) Check(weight, target);
        var i = 0;
        if (tone is var (mean, scale, shift))
        {
            var (m, s, b) = (new Vector<float>(mean), new Vector<float>(scale), new Vector<float>(shift));
            if (weighted)
            {
                for (; i <= target.Length - Width; i += Width) Store(Load(target, i) + ((Load(values, i) - m) * s + m + b) * Load(weight, i), target, i);
                for (; i < target.Length; i++) target[i] += ((values[i] - mean) * scale + mean + shift) * weight[i];
            }
            else
            {
                for (; i <= target.Length - Width; i += Width) Store(Load(target, i) + ((Load(values, i) - m) * s + m + b), target, i);
                for (; i < target.Length; i++) target[i] += (values[i] - mean) * scale + mean + shift;
            }
        }
        else if (weighted)
        {
            for (; i <= target.Length - Width; i += Width) Store(Load(target, i) + Load(values, i) * Load(weight, i), target, i);
            for (; i < target.Length; i++) target[i] += values[i] * weight[i];
        }
        else Add(target, values);
    }

    /// <summary>target += tone(a·wa + b·wb) · weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddLerpTransformed(ReadOnlySpan<float> a, float wa, ReadOnlySpan<float> b, float wb, Tone? tone, ReadOnlySpan<float> weight, Span<float> target)
    {
        Check(a, target);
        Check(b, target);
        Check(weight, target);
        var (va, vb) = (new Vector<float>(wa), new Vector<float>(wb));
        var i = 0;
        if (tone is var (mean, scale, shift))
        {
            var (m, s, c) = (new Vector<float>(mean), new Vector<float>(scale), new Vector<float>(shift));
            for (; i <= target.Length - Width; i += Width)
                Store(Load(target, i) + (((Load(a, i) * va + Load(b, i) * vb) - m) * s + m + c) * Load(weight, i), target, i);
            for (; i < target.Length; i++) target[i] += (((a[i] * wa + b[i] * wb) - mean) * scale + mean + shift) * weight[i];
            return;
        }
        for (; i <= target.Length - Width; i += Width) Store(Load(target, i) + (Load(a, i) * va + Load(b, i) * vb) * Load(weight, i), target, i);
        for (; i < target.Length; i++) target[i] += (a[i] * wa + b[i] * wb) * weight[i];
    }

    /// <summary>target = (q − tone(a·wa + b·wb))² (<paramref name="first"/>) or target += it: one channel's term of a token's
    /// squared distance to the consensus q, in one pass (<see cref="Lerp"/>, <see cref="Transform"/> and the squared
    /// difference, op for op).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SquaredDistance(ReadOnlySpan<float> q, ReadOnlySpan<float> a, float wa, ReadOnlySpan<float> b, float wb, Tone? tone, Span<float> target,
        bool first)
    {
        Check(q, target);
        Check(a, target);
        Check(b, target);
        var (va, vb) = (new Vector<float>(wa), new Vector<float>(wb));
        var i = 0;
        if (tone is var (mean, scale, shift))
        {
            var (m, s, c) = (new Vector<float>(mean), new Vector<float>(scale), new Vector<float>(shift));
            for (; i <= target.Length - Width; i += Width)
            {
                var d = Load(q, i) - (((Load(a, i) * va + Load(b, i) * vb) - m) * s + m + c);
                Store(first ? d * d : Load(target, i) + d * d, target, i);
            }
            for (; i < target.Length; i++)
            {
                var d = q[i] - (((a[i] * wa + b[i] * wb) - mean) * scale + mean + shift);
                target[i] = first ? d * d : target[i] + d * d;
            }
            return;
        }
        for (; i <= target.Length - Width; i += Width)
        {
            var d = Load(q, i) - (Load(a, i) * va + Load(b, i) * vb);
            Store(first ? d * d : Load(target, i) + d * d, target, i);
        }
        for (; i < target.Length; i++)
        {
            var d = q[i] - (a[i] * wa + b[i] * wb);
            target[i] = first ? d * d : target[i] + d * d;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Load(ReadOnlySpan<float> span, int index) => Vector.LoadUnsafe(ref MemoryMarshal.GetReference(span), (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector<float> value, Span<float> span, int index) => value.StoreUnsafe(ref MemoryMarshal.GetReference(span), (nuint)index);

    /// <summary>The unchecked vector loads above read <paramref name="target"/>.Length elements of <paramref name="source"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Check(ReadOnlySpan<float> source, ReadOnlySpan<float> target)
    {
        if (source.Length < target.Length) Throw();
        static void Throw() => throw new ArgumentException("source row shorter than its target");
    }
}

/// <summary>One tile-channel's tone correction: v ↦ ((v − mean)·scale + mean) + shift.</summary>
internal readonly record struct Tone(float Mean, float Scale, float Shift);
