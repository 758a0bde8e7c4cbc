using System.Numerics;
using System.Runtime.CompilerServices;
using OrleansDiffusion.Abstractions;
using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// Bidirectional cross-spatial attention, this product's sync (DESIGN §5.3):
/// <list type="number">
/// <item>Tone: every tile's per-channel mean and spread are pulled toward an attention-weighted mix of all
/// tiles' statistics (softmax of content similarity plus a spatial bias between tile centres), with a
/// strength that decays to zero over the run, so distant tiles do not drift apart in tone.</item>
/// <item>Tokens: each tile pools its proposal into cells (summary tokens at canvas positions), spread back bilinearly
/// over the window; the tone correction (affine per channel) is applied to proposal and tokens alike.</item>
/// <item>Overlaps: at every pixel the covering tiles are weighted by softmax_i(log g_i + λ·s_i), where g_i is the
/// window Gaussian (spatial bias toward window centres) and s_i the similarity of tile i's token to the
/// Gaussian-weighted consensus token, normalised by the local disagreement. λ = 0 gives Gaussian sync exactly.</item>
/// </list>
/// Every rule is the same for each pair of tiles and sums over tiles, so permuting tiles never changes the result.
/// All of it runs on all tiles at once (stacked proposals, flat canvas indices; see <see cref="SyncGeometry"/>).
/// </summary>
public sealed class AttentionSync(AttentionSyncOptions? options = null) : ISyncMode
{
    private readonly AttentionSyncOptions _options = options ?? new AttentionSyncOptions();

    public SyncMode Mode => SyncMode.Attention;

    /// <summary>Local denoisers read their receptive halo from the synced canvas (see <see cref="WeightedAverageSync.Context"/>).</summary>
    public int Context(int maxDenoiserHalo) => maxDenoiserHalo;
    public AttentionSyncOptions Options => _options;

    public SyncResult Synchronize(SyncInput input) => CanvasSync.Result(input, Blend(input));

    private Tensor Blend(SyncInput input)
    {
        using var scope = NewDisposeScope();
        var geometry = SyncGeometry.Of(input.Plan.Layout);
        var windows = WindowPlanes.Of(geometry, input.Proposals);                 // grid order, read in place
        var (pooled, means, spreads) = Summaries(windows, geometry.Layout.TileHeight, geometry.Layout.TileWidth, UsesTokens);
        var tone = Tone(geometry, input.Step, input.Steps, means, spreads);
        return Blend(geometry, windows, pooled, means, tone).MoveToOuterDisposeScope();
    }

    /// <summary>The synced canvas from stacked windows [C, T, h, w], their pooled token cells [C, T, rows, columns]
    /// (<see cref="Pool"/>; null when the content term is off), their statistics and the tone correction ([T, C] each,
    /// grid order), e.g. the coordinator's whole canvas.</summary>
    internal Tensor Blend(SyncGeometry geometry, Tensor values, Tensor? pooled, Tensor means, (Tensor Scale, Tensor Shift)? tone)
    {
        using var scope = NewDisposeScope();
        return Blend(geometry, WindowPlanes.Stacked(values), pooled, means, tone).MoveToOuterDisposeScope();
    }

    private Tensor Blend(SyncGeometry geometry, WindowPlanes windows, Tensor? pooled, Tensor means, (Tensor Scale, Tensor Shift)? tone)
    {
        using var scope = NewDisposeScope();
        var toneValues = tone is var (scale, shift) ? new ToneValues(windows.Channels, Values(means), Values(scale), Values(shift)) : null;
        Tensor canvas;
        if (pooled is null)
        {
            canvas = zeros(windows.Channels, geometry.Layout.CanvasHeight, geometry.Layout.CanvasWidth);
            CanvasKernels.Mean(geometry, windows, toneValues, gaussian: true, SyncKernels.Floats(canvas));
        }
        else
        {
            var cells = TokenCells(geometry.Layout.TileHeight, geometry.Layout.TileWidth);
            if (pooled.shape.Length != 4 || pooled.shape[2] != cells[0] || pooled.shape[3] != cells[1])
                throw new ArgumentException($"expected pooled token cells [C, T, {cells[0]}, {cells[1]}], got [{string.Join(", ", pooled.shape)}]", nameof(pooled));
            canvas = CanvasKernels.Attention(geometry, windows, SyncKernels.Cpu(pooled), toneValues, _options.ContentStrength);
        }
        return (windows.Device.type == TorchSharp.DeviceType.CPU ? canvas : canvas.to(windows.Device)).MoveToOuterDisposeScope();
    }

    private static float[] Values(Tensor tensor) => SyncKernels.Floats(SyncKernels.Cpu(tensor)).ToArray();

    /// <summary>Whether the overlap weights use content tokens (λ ≠ 0).</summary>
    internal bool UsesTokens => _options.ContentStrength != 0;

    /// <summary>Token cells of an h×w window: [rows, columns].</summary>
    internal long[] TokenCells(long height, long width) =>
        [Math.Max(1, height / _options.CellSize), Math.Max(1, width / _options.CellSize)];

    /// <summary>[N, M, rows, columns] cell means of window planes [N, M, h, w] (every plane pooled on its own with
    /// <see cref="SyncKernels.Pool"/>, as a tile pools its own upload: the same bits).</summary>
    internal Tensor Pool(Tensor planes)
    {
        using var scope = NewDisposeScope();
        var (height, width) = ((int)planes.shape[^2], (int)planes.shape[^1]);
        var cells = TokenCells(height, width);
        var source = SyncKernels.Floats(SyncKernels.Cpu(planes));
        var pooled = empty(planes.shape[0], planes.shape[1], cells[0], cells[1]);
        var (rows, columns) = ((int)cells[0], (int)cells[1]);
        SyncKernels.PoolPlanes(source, height, width, rows, columns, SyncKernels.Floats(pooled));
        return (planes.device_type == TorchSharp.DeviceType.CPU ? pooled : pooled.to(planes.device)).MoveToOuterDisposeScope();
    }

    /// <summary>Every slot's pooled cells ([C, T, rows, columns], or null without <paramref name="tokens"/>), means and
    /// spreads ([T, C] each), one plane at a time while it is in cache; the same per-plane arithmetic as <see cref="Pool"/>
    /// and <see cref="Statistics"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private (Tensor? Pooled, Tensor Means, Tensor Spreads) Summaries(WindowPlanes windows, int height, int width, bool tokens)
    {
        var (channels, count) = (windows.Channels, windows.Count);
        var cells = TokenCells(height, width);
        var (rows, columns) = ((int)cells[0], (int)cells[1]);
        var cellCount = rows * columns;
        var pooled = tokens ? empty(channels, count, rows, columns) : null;
        var (means, spreads) = (empty(count, channels), empty(count, channels));
        var meanValues = SyncKernels.Floats(means);
        var spreadValues = SyncKernels.Floats(spreads);
        var pooledValues = pooled is null ? default : SyncKernels.Floats(pooled);
        var scratch = new float[width];
        for (var slot = 0; slot < count; slot++)
        {
            var source = windows.Slot(slot, out var offset, out var stride);
            for (var c = 0; c < channels; c++)
            {
                var plane = source.Slice(offset + c * stride, windows.Size);
                if (pooled is not null) SyncKernels.Pool(plane, height, width, rows, columns, pooledValues.Slice((c * count + slot) * cellCount, cellCount), scratch);
                (meanValues[slot * channels + c], spreadValues[slot * channels + c]) = SyncKernels.Statistics(plane);
            }
        }
        return (pooled, means, spreads);
    }

    /// <summary>Pooled cells spread back bilinearly over the window (half-pixel centres, clamped at the edges, as torch's
    /// bilinear interpolate without align_corners): [N, M, h, w], as tensor ops. <see cref="Blend"/> computes the same
    /// tokens (the same bits) row by row without materialising them; this is the reference formulation.</summary>
    internal static Tensor Interpolate(Tensor pooled, TileLayout layout)
    {
        using var scope = NewDisposeScope();
        var (x0, x1, wx0, wx1) = Axis((int)pooled.shape[^1], layout.TileWidth);
        var (y0, y1, wy0, wy1) = Axis((int)pooled.shape[^2], layout.TileHeight);
        var (tx0, tx1, twx0, twx1) = (tensor(Array.ConvertAll(x0, i => (long)i)), tensor(Array.ConvertAll(x1, i => (long)i)), tensor(wx0), tensor(wx1));
        var (ty0, ty1, twy0, twy1) = (tensor(Array.ConvertAll(y0, i => (long)i)), tensor(Array.ConvertAll(y1, i => (long)i)), tensor(wy0), tensor(wy1));
        var across = pooled.index_select(-1, tx0).mul_(twx0).AddInPlace(pooled.index_select(-1, tx1).mul_(twx1));    // [N, M, rows, w]
        var result = across.index_select(-2, ty0).mul_(twy0.unsqueeze(1)).AddInPlace(across.index_select(-2, ty1).mul_(twy1.unsqueeze(1)));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Source cells and weights of every output position along one axis.</summary>
    internal static (int[] First, int[] Second, float[] FirstWeight, float[] SecondWeight) Axis(int cells, int length)
    {
        var first = new int[length];
        var second = new int[length];
        var firstWeight = new float[length];
        var secondWeight = new float[length];
        var scale = (double)cells / length;
        for (var i = 0; i < length; i++)
        {
            var source = Math.Max(scale * (i + 0.5) - 0.5, 0);
            var lower = Math.Min((int)source, cells - 1);
            first[i] = lower;
            second[i] = Math.Min(lower + 1, cells - 1);
            secondWeight[i] = (float)(source - lower);
            firstWeight[i] = 1 - secondWeight[i];
        }
        return (first, second, firstWeight, secondWeight);
    }

    /// <summary>Per-tile, per-channel mean and (unbiased) spread of windows [C, T, h, w]: [T, C] each, contiguous.
    /// A tile's own (<see cref="SyncKernels.Statistics"/> per plane, as it uploads them) are the same bits.</summary>
    internal static (Tensor Mean, Tensor Spread) Statistics(Tensor values)
    {
        using var scope = NewDisposeScope();
        var windows = WindowPlanes.Stacked(values);
        var (channels, count) = (windows.Channels, windows.Count);
        var (means, spreads) = (empty(count, channels), empty(count, channels));
        var meanValues = SyncKernels.Floats(means);
        var spreadValues = SyncKernels.Floats(spreads);
        var source = windows.Slot(0, out _, out var stride);
        for (var slot = 0; slot < count; slot++)
            for (var c = 0; c < channels; c++)
                (meanValues[slot * channels + c], spreadValues[slot * channels + c]) = SyncKernels.Statistics(source.Slice(slot * windows.Size + c * stride, windows.Size));
        var device = values.device;
        return device.type == TorchSharp.DeviceType.CPU
            ? (means.MoveToOuterDisposeScope(), spreads.MoveToOuterDisposeScope())
            : (means.to(device).MoveToOuterDisposeScope(), spreads.to(device).MoveToOuterDisposeScope());
    }

    /// <summary>Requirement (d): per tile and channel, the scale and shift that pull each tile's mean and spread toward the
    /// attention-weighted mix of all tiles' ([T, C] each); null when the pull has decayed to zero (or one tile).
    /// See <see cref="Tone(SyncGeometry, int, int, float[], float[], int)"/>.</summary>
    internal (Tensor Scale, Tensor Shift)? Tone(SyncGeometry geometry, int step, int steps, Tensor means, Tensor spreads)
    {
        var (count, channels) = ((int)means.shape[0], (int)means.shape[1]);
        return Tone(geometry, step, steps, Values(means), Values(spreads), channels) is var (scale, shift)
            ? (tensor(scale, [count, channels]), tensor(shift, [count, channels]))
            : null;
    }

    /// <summary><see cref="Tone(SyncGeometry, int, int, Tensor, Tensor)"/> on floats ([T·C] each, grid order), for callers that
    /// read every tile's statistics without tensor ops. The attention between tiles i and j is
    /// softmax_j(b_ij − λ·‖m_i − m_j‖² / (2·mean‖m_i − m_j‖²)), b the spatial bias. The [T, T] weights are built row by row
    /// (one tile's row of logits, softmax, weighted sums) in plain loops: O(T²·C) arithmetic and no [T, T, C] intermediates.
    /// With <paramref name="threads"/> &gt; 1 the rows are split into contiguous ranges side by side; the row sums are added
    /// in row order afterwards, so the result is the same bits for any thread count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal (float[] Scale, float[] Shift)? Tone(SyncGeometry geometry, int step, int steps, float[] meanValues, float[] spreadValues, int channels,
        int threads = 1)
    {
        var strength = steps <= 1 ? 0 : _options.ToneStrength * Math.Pow(1 - (double)step / (steps - 1), 2);
        if (strength <= 0 || geometry.Layout.Count < 2) return null;
        var count = meanValues.Length / channels;
        // Channel-major copies (spreads floored): row i's loops run over j.
        var byChannel = new float[channels * count];
        var spreadByChannel = new float[channels * count];
        for (var t = 0; t < count; t++)
            for (var c = 0; c < channels; c++)
            {
                byChannel[c * count + t] = meanValues[t * channels + c];
                spreadByChannel[c * count + t] = Math.Max(spreadValues[t * channels + c], 1e-6f);
            }
        var weights = new float[count * count];
        var rowSums = new double[count];
        OverRows(count, threads, i =>
        {
            var row = weights.AsSpan(i * count, count);
            for (var c = 0; c < channels; c++)
                SquaredDistance(byChannel.AsSpan(c * count, count), byChannel[c * count + i], row, first: c == 0);
            rowSums[i] = Sum(row);
        });
        double total = 0;
        foreach (var rowSum in rowSums) total += rowSum;
        var factor = (float)(_options.ContentStrength / (2 * (total / ((double)count * count) + 1e-12)));
        var bias = geometry.SpatialBias(_options.SpatialScale);
        var scale = new float[count * channels];
        var shift = new float[count * channels];
        OverRows(count, threads, i =>
        {
            var row = weights.AsSpan(i * count, count);
            Softmax(bias.AsSpan(i * count, count), factor, row);
            for (var c = 0; c < channels; c++)
            {
                var k = i * channels + c;
                var targetMean = Dot(row, byChannel.AsSpan(c * count, count));
                var targetSpread = Dot(row, spreadByChannel.AsSpan(c * count, count));
                scale[k] = (float)(1 + strength * (targetSpread / spreadByChannel[c * count + i] - 1));
                shift[k] = (float)(strength * (targetMean - meanValues[k]));
            }
        });
        return (scale, shift);
    }

    /// <summary>Runs <paramref name="body"/> for rows 0..count−1: in order on this thread, or in contiguous ranges on up to
    /// <paramref name="threads"/> threads (rows are independent; at least 16 per range so small grids stay on one thread).</summary>
    private static void OverRows(int count, int threads, Action<int> body)
    {
        var parts = Math.Min(threads, count / 16);
        if (parts < 2)
        {
            for (var i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            for (int i = part * count / parts, end = (part + 1) * count / parts; i < end; i++) body(i);
        });
    }

    /// <summary>target = (values − x)², or += it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SquaredDistance(ReadOnlySpan<float> values, float x, Span<float> target, bool first)
    {
        var centre = new Vector<float>(x);
        var i = 0;
        for (; i <= target.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var d = SyncKernels.Load(values, i) - centre;
            SyncKernels.Store(first ? d * d : SyncKernels.Load(target, i) + d * d, target, i);
        }
        for (; i < target.Length; i++) target[i] = first ? (values[i] - x) * (values[i] - x) : target[i] + (values[i] - x) * (values[i] - x);
    }

    /// <summary>row ↦ softmax(bias − factor·row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Softmax(ReadOnlySpan<float> bias, float factor, Span<float> row)
    {
        var max = float.NegativeInfinity;
        var i = 0;
        for (; i < row.Length; i++) max = Math.Max(max, row[i] = bias[i] - factor * row[i]);
        var (top, sum) = (new Vector<float>(max), Vector<float>.Zero);
        for (i = 0; i <= row.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var e = Vector.Exp(SyncKernels.Load(row, i) - top);
            SyncKernels.Store(e, row, i);
            sum += e;
        }
        var total = Vector.Sum(sum);
        for (; i < row.Length; i++) total += row[i] = MathF.Exp(row[i] - max);
        var inverse = new Vector<float>(1 / total);
        for (i = 0; i <= row.Length - Vector<float>.Count; i += Vector<float>.Count) SyncKernels.Store(SyncKernels.Load(row, i) * inverse, row, i);
        for (; i < row.Length; i++) row[i] /= total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Sum(ReadOnlySpan<float> values)
    {
        var sum = Vector<float>.Zero;
        var i = 0;
        for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count) sum += SyncKernels.Load(values, i);
        var total = Vector.Sum(sum);
        for (; i < values.Length; i++) total += values[i];
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = Vector<float>.Zero;
        var i = 0;
        for (; i <= a.Length - Vector<float>.Count; i += Vector<float>.Count) sum += SyncKernels.Load(a, i) * SyncKernels.Load(b, i);
        var total = Vector.Sum(sum);
        for (; i < a.Length; i++) total += a[i] * b[i];
        return total;
    }
}
