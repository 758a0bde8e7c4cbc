using System.Numerics;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>Each tile's per-channel tone correction ([T·C] each, grid order): v ↦ ((v − mean)·scale + mean) + shift.</summary>
internal sealed class ToneValues(int channels, float[] means, float[] scales, float[] shifts)
{
    public Tone Of(int slot, int channel)
    {
        var i = slot * channels + channel;
        return new Tone(means[i], scales[i], shifts[i]);
    }
}

/// <summary>
/// The canvas formulas of the sync modes on <see cref="WindowPlanes"/>, as <see cref="SyncKernels"/> loops: the weighted
/// mean (average, Gaussian) and attention's content-weighted consensus (DESIGN §5.3 c). Each is the element-wise formula
/// of the tensor version, step by step in the same order, so it gives the same bits.
/// </summary>
internal static class CanvasKernels
{

    /// <summary>canvas [C, H, W] (zeroed) = Σ w·v / Σ w over the windows covering each cell, w = 1 or the window Gaussian;
    /// v toned first when <paramref name="tone"/> is given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Mean(SyncGeometry geometry, WindowPlanes windows, ToneValues? tone, bool gaussian, Span<float> canvas)
    {
        var rows = new MeanRows(windows, tone, gaussian ? geometry.GaussianValues : null, geometry.Layout.TileWidth);
        SyncKernels.Accumulate(geometry, ref rows, canvas);
        var total = gaussian ? geometry.GaussianTotalValues : geometry.CountValues;
        for (var c = 0; c < windows.Channels; c++) SyncKernels.Divide(canvas.Slice(c * total.Length, total.Length), total);
    }

    /// <summary>
    /// The attention consensus: tokens t (each slot's pooled cells spread bilinearly over its window, toned like the
    /// window), consensus Q = Σ g·t / Σ g, distance d = Σ_c (Q − t)², disagreement V = Σ g·d / Σ g,
    /// weight w = g·exp(max(−λ·d / (2(V + 1e-12)), −20)), result [C, H, W] = Σ w·v / Σ w (v toned).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Tensor Attention(SyncGeometry geometry, WindowPlanes windows, Tensor pooled, ToneValues? tone, double lambda)
    {
        using var scope = NewDisposeScope();
        var layout = geometry.Layout;
        var (channels, count) = (windows.Channels, windows.Count);
        var (height, width) = (layout.TileHeight, layout.TileWidth);
        var plane = layout.CanvasHeight * layout.CanvasWidth;
        var (rows, columns) = ((int)pooled.shape[2], (int)pooled.shape[3]);
        var gaussian = geometry.GaussianValues;
        var gaussianTotal = geometry.GaussianTotalValues;

        // Tokens across each cell row: [T, C, rows, w] (the first, horizontal, step of the bilinear spread).
        var acrossBuffer = ScratchFloats.Rent(count * channels * rows * width);
        var planeBuffer = ScratchFloats.Rent(plane);
        var distanceBuffer = ScratchFloats.Rent(count * height * width);
        try
        {
            TokenSource.Spread(SyncKernels.Floats(pooled), count, width, rows, columns, acrossBuffer);
            var tokens = TokenSource.Over(acrossBuffer, count, channels, height, width, rows, tone);

            // Q: the Gaussian-weighted consensus of the tokens covering each cell.
            var result = zeros(channels + 1, layout.CanvasHeight, layout.CanvasWidth);      // the consensus, later Σ w·v and Σ w
            var sums = SyncKernels.Floats(result);
            var consensusRows = new ConsensusRows(tokens, gaussian, width);
            SyncKernels.Accumulate(geometry, ref consensusRows, sums);
            for (var c = 0; c < channels; c++) SyncKernels.Divide(sums.Slice(c * plane, plane), gaussianTotal);

            // d per window cell, V per canvas cell.
            var distances = distanceBuffer.AsSpan(0, count * height * width);
            var disagreement = planeBuffer.AsSpan(0, plane);
            disagreement.Clear();
            var scratch = new float[channels * width];                                    // a wrapping window row's consensus (C rows) or disagreement
            var distanceRows = new DistanceRows(geometry, tokens, sums[..(channels * plane)], distances, gaussian, scratch);
            SyncKernels.Accumulate(geometry, ref distanceRows, disagreement);
            SyncKernels.Divide(disagreement, gaussianTotal);

            // Σ w·v and Σ w (w from d and V as each window row is added), then the weighted mean.
            sums.Clear();
            var weightedRows = new WeightedRows(geometry, windows, tone, gaussian, distances, disagreement, (float)lambda, scratch);
            SyncKernels.Accumulate(geometry, ref weightedRows, sums);
            var total = sums.Slice(channels * plane, plane);
            for (var c = 0; c < channels; c++) SyncKernels.Divide(sums.Slice(c * plane, plane), total);
            return result.narrow(0, 0, channels).MoveToOuterDisposeScope();
        }
        finally
        {
            ScratchFloats.Return(acrossBuffer);
            ScratchFloats.Return(planeBuffer);
            ScratchFloats.Return(distanceBuffer);
        }
    }

    /// <summary>weight = g·exp(logit(d, V)) of one window row (or run), d turned into its exponential in place: the attention
    /// weight, computed where the row is added (each window cell's d is read once), with the ops of <see cref="Logit"/>
    /// and <see cref="SyncKernels.Exp"/> (whose result does not depend on where in the span a value sits).</summary>
    internal static void Weight(Span<float> distance, ReadOnlySpan<float> disagreement, float lambda, ReadOnlySpan<float> gaussian, Span<float> weight)
    {
        Logit(distance, disagreement, lambda);
        SyncKernels.Exp(distance);
        SyncKernels.Product(gaussian, distance, weight);
    }

    /// <summary>d ↦ max(−(d / ((V + 1e-12)·2))·λ, −20).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Logit(Span<float> distance, ReadOnlySpan<float> disagreement, float lambda)
    {
        var (epsilon, two, scale, floor) = (new Vector<float>(1e-12f), new Vector<float>(2f), new Vector<float>(lambda), new Vector<float>(-20f));
        var i = 0;
        for (; i <= distance.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var d = new Vector<float>(distance.Slice(i));
            var v = new Vector<float>(disagreement.Slice(i));
            Vector.Max(-(d / ((v + epsilon) * two)) * scale, floor).CopyTo(distance.Slice(i));
        }
        for (; i < distance.Length; i++) distance[i] = Math.Max(-(distance[i] / ((disagreement[i] + 1e-12f) * 2f)) * lambda, -20f);
    }

    /// <summary>A slot's token row (the vertical bilinear step from the cell rows, then its tone).</summary>
    internal readonly ref struct TokenSource(ReadOnlySpan<float> across, int[] y0, int[] y1, float[] wy0, float[] wy1, ToneValues? tone, int channels, int rows, int width)
    {
        private readonly ReadOnlySpan<float> _across = across;

        /// <summary>The tokens of pooled cells [C, T, rows, columns] spread across each cell row into
        /// <paramref name="buffer"/> (at least T·C·rows·w floats; the horizontal bilinear step), ready for the vertical one
        /// (<see cref="Over"/>).</summary>
        public static void Spread(ReadOnlySpan<float> cells, int count, int width, int rows, int columns, float[] buffer) =>
            Spread(cells, count, width, rows, columns, buffer, 0, count);

        /// <summary><see cref="Spread(ReadOnlySpan{float}, int, int, int, int, float[])"/> for slots [<paramref name="first"/>,
        /// <paramref name="end"/>) alone (each slot's tokens are its own: slot ranges can be spread on threads side by side).</summary>
        public static void Spread(ReadOnlySpan<float> cells, int count, int width, int rows, int columns, float[] buffer, int first, int end)
        {
            var channels = cells.Length / (count * rows * columns);
            var across = buffer.AsSpan(0, count * channels * rows * width);
            var (x0, x1, wx0, wx1) = AttentionSync.Axis(columns, width);
            for (var slot = first; slot < end; slot++)
                for (var c = 0; c < channels; c++)
                    for (var row = 0; row < rows; row++)
                    {
                        var source = cells.Slice(((c * count + slot) * rows + row) * columns, columns);
                        var target = across.Slice(((slot * channels + c) * rows + row) * width, width);
                        for (var x = 0; x < width; x++) target[x] = source[x0[x]] * wx0[x] + source[x1[x]] * wx1[x];
                    }
        }

        /// <summary>The tokens over a buffer <see cref="Spread"/> filled (one per thread that reads it).</summary>
        public static TokenSource Over(float[] across, int count, int channels, int height, int width, int rows, ToneValues? tone)
        {
            var (y0, y1, wy0, wy1) = AttentionSync.Axis(rows, height);
            return new TokenSource(across.AsSpan(0, count * channels * rows * width), y0, y1, wy0, wy1, tone, channels, rows, width);
        }

        public int Channels => channels;

        /// <summary>target = the token row from window column <paramref name="x"/> on (target's length), times
        /// <paramref name="weight"/> unless it is empty.</summary>
        public void Row(int slot, int channel, int y, ReadOnlySpan<float> weight, Span<float> target, int x = 0)
        {
            var first = (slot * channels + channel) * rows * width + x;
            SyncKernels.Lerp(_across.Slice(first + y0[y] * width, target.Length), wy0[y], _across.Slice(first + y1[y] * width, target.Length), wy1[y], target);
            SyncKernels.Transform(target, tone?.Of(slot, channel), weight, target);
        }

        /// <summary>distance = Σ_c (consensus_c − the token row of channel c from window column <paramref name="x"/> on)²
        /// (distance's length; plane c of <paramref name="consensus"/> at c·<paramref name="plane"/>), channel by channel.
        /// All channels in one call: a band run is often 16 cells, so the row's lookups are worth doing once.</summary>
        public void SquaredDistances(int slot, int y, int x, ReadOnlySpan<float> consensus, int plane, Span<float> distance)
        {
            var (length, stride) = (distance.Length, rows * width);
            var first = slot * channels * stride + x;
            var (a, b, wa, wb) = (first + y0[y] * width, first + y1[y] * width, wy0[y], wy1[y]);
            for (var c = 0; c < channels; c++, a += stride, b += stride)
                SyncKernels.SquaredDistance(consensus.Slice(c * plane, length), _across.Slice(a, length), wa, _across.Slice(b, length), wb, tone?.Of(slot, c),
                    distance, first: c == 0);
        }

        /// <summary>target (plane c at c·<paramref name="plane"/>) += the token row of channel c from window column
        /// <paramref name="x"/> on times <paramref name="weight"/> (its length), for every channel.</summary>
        public void AddRows(int slot, int y, int x, ReadOnlySpan<float> weight, Span<float> target, int plane)
        {
            var (length, stride) = (weight.Length, rows * width);
            var first = slot * channels * stride + x;
            var (a, b, wa, wb) = (first + y0[y] * width, first + y1[y] * width, wy0[y], wy1[y]);
            for (var c = 0; c < channels; c++, a += stride, b += stride)
                SyncKernels.AddLerpTransformed(_across.Slice(a, length), wa, _across.Slice(b, length), wb, tone?.Of(slot, c), weight, target.Slice(c * plane, length));
        }
    }

    /// <summary>g·t per channel (the consensus numerator).</summary>
    private readonly ref struct ConsensusRows(TokenSource tokens, float[] gaussian, int width) : IWindowRows
    {
        private readonly TokenSource _tokens = tokens;

        public int Planes => _tokens.Channels;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Fill(int slot, int y, Span<float> rows)
        {
            var weight = gaussian.AsSpan(y * width, width);
            for (var c = 0; c < _tokens.Channels; c++) _tokens.Row(slot, c, y, weight, rows.Slice(c * width, width));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddTo(int slot, int y, Span<float> target, int start, int plane)
        {
            _tokens.AddRows(slot, y, 0, gaussian.AsSpan(y * width, width), target[start..], plane);
        }
    }

    /// <summary>d = Σ_c (Q − t)², stored per window cell; contributes g·d (the disagreement numerator).</summary>
    private readonly ref struct DistanceRows(SyncGeometry geometry, TokenSource tokens, ReadOnlySpan<float> consensus, Span<float> distances,
        float[] gaussian, float[] scratch) : IWindowRows
    {
        private readonly TokenSource _tokens = tokens;
        private readonly ReadOnlySpan<float> _consensus = consensus;
        private readonly Span<float> _distances = distances;

        public int Planes => 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Fill(int slot, int y, Span<float> rows)
        {
            var width = geometry.Layout.TileWidth;
            SyncKernels.Product(Distance(slot, y), gaussian.AsSpan(y * width, width), rows[..width]);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddTo(int slot, int y, Span<float> target, int start, int plane)
        {
            var width = geometry.Layout.TileWidth;
            SyncKernels.AddTransformed(Distance(slot, y), null, gaussian.AsSpan(y * width, width), target.Slice(start, width));
        }

        /// <summary>Computes and stores d of window row y; returns it.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private Span<float> Distance(int slot, int y)
        {
            var layout = geometry.Layout;
            var (width, height) = (layout.TileWidth, layout.TileHeight);
            var plane = layout.CanvasHeight * layout.CanvasWidth;
            var (row, column) = Math.DivRem(slot, layout.Columns);
            var distance = _distances.Slice((slot * height + y) * width, width);
            var pieces = geometry.ColumnPieces[column];
            if (pieces.Length == 1)
                _tokens.SquaredDistances(slot, y, 0, _consensus[(geometry.CanvasRow(row, y) * layout.CanvasWidth + pieces[0].Start)..], plane, distance);
            else
            {
                // A window that wraps: its consensus rows gathered, channel by channel.
                for (var c = 0; c < _tokens.Channels; c++)
                    SyncKernels.Gather(geometry, row, column, y, _consensus.Slice(c * plane, plane), scratch.AsSpan(c * width, width));
                _tokens.SquaredDistances(slot, y, 0, scratch, width, distance);
            }
            return distance;
        }
    }

    /// <summary>w = g·exp(logit(d, V)) (<see cref="Weight"/>) and w·v per channel (v toned), with w itself as the last plane.</summary>
    private ref struct WeightedRows(SyncGeometry geometry, WindowPlanes windows, ToneValues? tone, float[] gaussian, Span<float> distances,
        ReadOnlySpan<float> disagreement, float lambda, float[] scratch) : IWindowRows
    {
        private readonly Span<float> _distances = distances;
        private readonly ReadOnlySpan<float> _disagreement = disagreement;
        private readonly float[] _weight = new float[geometry.Layout.TileWidth];
        private ReadOnlySpan<float> _source;
        private int _slot = -1, _offset, _stride;

        private void Load(int slot)
        {
            if (slot == _slot) return;
            _source = windows.Slot(slot, out _offset, out _stride);
            _slot = slot;
        }

        public readonly int Planes => windows.Channels + 1;

        public void Fill(int slot, int y, Span<float> rows)
        {
            Load(slot);
            var (channels, width) = (windows.Channels, geometry.Layout.TileWidth);
            var weight = rows.Slice(channels * width, width);
            AttentionWeight(slot, y, weight);
            for (var c = 0; c < channels; c++)
                SyncKernels.Transform(_source.Slice(_offset + c * _stride + y * width, width), tone?.Of(slot, c), weight, rows.Slice(c * width, width));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddTo(int slot, int y, Span<float> target, int start, int plane)
        {
            Load(slot);
            var (channels, width) = (windows.Channels, geometry.Layout.TileWidth);
            var weight = _weight.AsSpan(0, width);
            AttentionWeight(slot, y, weight);
            for (var c = 0; c < channels; c++)
                SyncKernels.AddTransformed(_source.Slice(_offset + c * _stride + y * width, width), tone?.Of(slot, c), weight, target.Slice(c * plane + start, width));
            SyncKernels.Add(target.Slice(channels * plane + start, width), weight);
        }

        private readonly void AttentionWeight(int slot, int y, Span<float> weight)
        {
            var width = geometry.Layout.TileWidth;
            var (row, column) = Math.DivRem(slot, geometry.Layout.Columns);
            CanvasKernels.Weight(_distances.Slice(slot * windows.Size + y * width, width), SyncKernels.Row(geometry, row, column, y, _disagreement, scratch), lambda,
                gaussian.AsSpan(y * width, width), weight);
        }
    }

    /// <summary>v (toned) per channel, times the window Gaussian when one is given.</summary>
    private ref struct MeanRows(WindowPlanes windows, ToneValues? tone, float[]? gaussian, int width) : IWindowRows
    {
        private ReadOnlySpan<float> _source;
        private int _slot = -1, _offset, _stride;

        private void Load(int slot)
        {
            if (slot == _slot) return;
            _source = windows.Slot(slot, out _offset, out _stride);
            _slot = slot;
        }

        public readonly int Planes => windows.Channels;

        public void Fill(int slot, int y, Span<float> rows)
        {
            Load(slot);
            var weight = gaussian is null ? default : gaussian.AsSpan(y * width, width);
            for (var c = 0; c < windows.Channels; c++)
                SyncKernels.Transform(_source.Slice(_offset + c * _stride + y * width, width), tone?.Of(slot, c), weight, rows.Slice(c * width, width));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddTo(int slot, int y, Span<float> target, int start, int plane)
        {
            Load(slot);
            var weight = gaussian is null ? default : gaussian.AsSpan(y * width, width);
            for (var c = 0; c < windows.Channels; c++)
                SyncKernels.AddTransformed(_source.Slice(_offset + c * _stride + y * width, width), tone?.Of(slot, c), weight, target.Slice(c * plane + start, width));
        }
    }
}
