using System.Runtime.CompilerServices;
using OrleansDiffusion.Diffusion.Sync;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>Every grid slot's upload ([C, n] floats at its sent positions, n from <paramref name="offsets"/>, checked by the
/// caller), read in place.</summary>
internal sealed class BandSlots(Tensor[] bands, int channels, int[] offsets)
{
    public int Channels => channels;

    /// <summary>The floats of <paramref name="slot"/>'s upload: channel c's values start at c·<paramref name="count"/>.</summary>
    public ReadOnlySpan<float> Of(int slot, out int count)
    {
        count = offsets[slot + 1] - offsets[slot];
        return SyncKernels.Floats(bands[slot]);
    }
}

/// <summary>The contributions of one <see cref="BandRun"/> to a band-canvas accumulation.</summary>
internal interface IBandRows
{
    int Planes { get; }

    /// <summary>Adds the run's contributions to plane m of <paramref name="target"/> at m·<paramref name="plane"/> + <paramref name="cell"/>.</summary>
    void AddTo(in BandRun run, Span<float> target, int cell, int plane);
}

/// <summary>
/// The canvas formulas of <see cref="CanvasKernels"/> on the band cells alone (<see cref="BandCanvas"/>): the same
/// element operations in the same order as the whole-canvas loops, so a band cell gets the very bits the full-window sync
/// would give it, at a cost that grows with the bands, not with the canvas.
/// </summary>
internal static class BandKernels
{
    /// <summary>target [M × cells] = Σ over runs, as <see cref="SyncKernels.Accumulate"/> sums (<see cref="AccumulateRow"/>
    /// tile row by tile row).</summary>
    public static void Accumulate<T>(BandCanvas canvas, scoped ref T source, Span<float> target)
        where T : IBandRows, allows ref struct
    {
        var stripBuffer = ScratchFloats.Rent(Math.Max(1, source.Planes * canvas.StripCells));
        try
        {
            for (var row = 0; row < canvas.Strips.Length; row++) AccumulateRow(canvas, row, ref source, target, stripBuffer);
        }
        finally
        {
            ScratchFloats.Return(stripBuffer);
        }
    }

    /// <summary>Tile row <paramref name="row"/>'s part of <see cref="Accumulate"/>: the cells of the canvas rows it reaches
    /// first start at zero, its windows are added column by column, into its <paramref name="strip"/> (M ×
    /// <see cref="BandCanvas.StripCells"/> floats) where an earlier tile row reaches the canvas row, the strip into the target.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateRow<T>(BandCanvas canvas, int row, scoped ref T source, Span<float> target, Span<float> strip)
        where T : IBandRows, allows ref struct
    {
        var planes = source.Planes;
        foreach (var fresh in canvas.Fresh[row])
            for (var m = 0; m < planes; m++) target.Slice(m * canvas.Count + fresh.Cell, fresh.Length).Clear();
        foreach (var stripRow in canvas.Strips[row])
            for (var m = 0; m < planes; m++) strip.Slice(m * canvas.StripCells + stripRow.Strip, stripRow.Length).Clear();
        for (var r = canvas.RunFirst[row]; r < canvas.RunFirst[row + 1]; r++)
        {
            ref readonly var run = ref canvas.Runs[r];
            if (run.Strip < 0) source.AddTo(run, target, run.Cell, canvas.Count);
            else source.AddTo(run, strip, run.Strip, canvas.StripCells);
        }
        foreach (var stripRow in canvas.Strips[row])
            for (var m = 0; m < planes; m++)
                SyncKernels.Add(target.Slice(m * canvas.Count + stripRow.Cell, stripRow.Length), strip.Slice(m * canvas.StripCells + stripRow.Strip, stripRow.Length));
    }

    /// <summary>Planes [0, M) of target [M × cells] /= divisor [cells] on <paramref name="ranges"/>.</summary>
    private static void Divide(Span<float> target, int planes, int cells, ReadOnlySpan<float> divisor, CellRange[] ranges)
    {
        foreach (var range in ranges)
            for (var m = 0; m < planes; m++) SyncKernels.Divide(target.Slice(m * cells + range.Cell, range.Length), divisor.Slice(range.Cell, range.Length));
    }

    /// <summary>[cells] Σ over covering windows of the weight: the window count, or of the window Gaussian.</summary>
    public static float[] Totals(BandCanvas canvas, float[]? gaussian, int width)
    {
        var totals = new float[canvas.Count];
        var source = new WeightRows(gaussian, width);
        Accumulate(canvas, ref source, totals);
        return totals;
    }

    /// <summary><paramref name="values"/> [C × cells] = Σ w·v / Σ w with w = 1 or the window Gaussian (<paramref name="totals"/>
    /// its sums), v toned where <paramref name="tone"/> is given; tile row by tile row, each canvas row divided once no later
    /// tile row reaches it, then <paramref name="complete"/>(row) (the cells that just became final are still in cache).</summary>
    public static void Mean(BandCanvas canvas, BandSlots bands, ToneValues? tone, float[]? gaussian, float[] totals, int width, Span<float> values,
        Action<int> complete)
    {
        var source = new MeanRows(bands, tone, gaussian, width);
        var stripBuffer = ScratchFloats.Rent(Math.Max(1, source.Planes * canvas.StripCells));
        try
        {
            for (var row = 0; row < canvas.Strips.Length; row++)
            {
                AccumulateRow(canvas, row, ref source, values, stripBuffer);
                Divide(values, bands.Channels, canvas.Count, totals, canvas.Complete[row]);
                complete(row);
            }
        }
        finally
        {
            ScratchFloats.Return(stripBuffer);
        }
    }

    /// <summary>Attention's content-weighted consensus (<see cref="CanvasKernels.Attention"/>) on the band cells: tokens from
    /// the pooled cells [C, T, rows, columns], Q, d, V and the weights as there. <paramref name="sums"/> [(C + 1) × cells]
    /// holds the result in its first C planes (the last is scratch).</summary>
    /// <remarks>The three accumulations (Q, V, Σ w·v) run as a wavefront over tile rows: each tile row as soon as what it
    /// reads is complete at all its cells (<see cref="BandCanvas.Ready"/>), so the canvas rows and uploads it shares with the
    /// rows just done are still in cache; each cell gets the same sums in the same order as three whole passes, divided once
    /// complete, then <paramref name="complete"/>(row) as in <see cref="Mean"/>. Scratch comes from <see cref="ScratchFloats"/>.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attention(BandCanvas canvas, SyncGeometry geometry, BandSlots bands, ReadOnlySpan<float> pooled, int rows, int columns, ToneValues? tone,
        float[] gaussianTotals, int[] bandOffsets, double lambda, Span<float> sums, Action<int> complete)
    {
        var layout = geometry.Layout;
        var (channels, count, cells) = (bands.Channels, layout.Count, canvas.Count);
        var (height, width) = (layout.TileHeight, layout.TileWidth);
        var gaussian = geometry.GaussianValues;
        var stripCells = Math.Max(1, canvas.StripCells);
        var acrossBuffer = ScratchFloats.Rent(count * channels * rows * width);
        var consensusBuffer = ScratchFloats.Rent(channels * cells);
        var distanceBuffer = ScratchFloats.Rent(bandOffsets[^1]);
        var disagreementBuffer = ScratchFloats.Rent(cells);
        var stripBuffer = ScratchFloats.Rent((2 * channels + 2) * stripCells);
        try
        {
            var tokens = CanvasKernels.TokenSource.Spread(pooled, count, height, width, rows, columns, tone, acrossBuffer);
            var consensusStrip = stripBuffer.AsSpan(0, channels * stripCells);
            var distanceStrip = stripBuffer.AsSpan(channels * stripCells, stripCells);
            var weightedStrip = stripBuffer.AsSpan((channels + 1) * stripCells, (channels + 1) * stripCells);

            // Q, V per band cell; d per sent window cell (laid out like the uploads).
            var consensus = consensusBuffer.AsSpan(0, channels * cells);
            var disagreement = disagreementBuffer.AsSpan(0, cells);
            var distances = distanceBuffer.AsSpan(0, bandOffsets[^1]);
            var consensusRows = new ConsensusRows(tokens, gaussian, width);
            var distanceRows = new DistanceRows(tokens, consensus, cells, distances, bandOffsets, gaussian, width);
            // Σ w·v and Σ w (w from d and V as each run is added).
            var weightedRows = new WeightedRows(bands, tone, gaussian, distances, disagreement, (float)lambda, bandOffsets, width);
            var total = sums.Slice(channels * cells, cells);
            var (distanceRow, weightedRow) = (0, 0);
            for (var row = 0; row < layout.Rows; row++)
            {
                AccumulateRow(canvas, row, ref consensusRows, consensus, consensusStrip);
                Divide(consensus, channels, cells, gaussianTotals, canvas.Complete[row]);
                for (; distanceRow < layout.Rows && canvas.Ready[distanceRow] <= row; distanceRow++)
                {
                    AccumulateRow(canvas, distanceRow, ref distanceRows, disagreement, distanceStrip);
                    Divide(disagreement, 1, cells, gaussianTotals, canvas.Complete[distanceRow]);
                    for (; weightedRow <= distanceRow && canvas.Ready[weightedRow] <= distanceRow; weightedRow++)
                    {
                        AccumulateRow(canvas, weightedRow, ref weightedRows, sums, weightedStrip);
                        Divide(sums, channels, cells, total, canvas.Complete[weightedRow]);
                        complete(weightedRow);
                    }
                }
            }
        }
        finally
        {
            ScratchFloats.Return(acrossBuffer);
            ScratchFloats.Return(consensusBuffer);
            ScratchFloats.Return(distanceBuffer);
            ScratchFloats.Return(disagreementBuffer);
            ScratchFloats.Return(stripBuffer);
        }
    }

    /// <summary>The weight alone: 1, or the window Gaussian.</summary>
    private readonly struct WeightRows(float[]? gaussian, int width) : IBandRows
    {
        private readonly float[] _ones = Enumerable.Repeat(1f, width).ToArray();

        public int Planes => 1;

        public void AddTo(in BandRun run, Span<float> target, int cell, int plane) =>
            SyncKernels.Add(target.Slice(cell, run.Length), gaussian is null ? _ones.AsSpan(0, run.Length) : gaussian.AsSpan(run.Y * width + run.X, run.Length));
    }

    /// <summary>v (toned) per channel, times the window Gaussian when one is given.</summary>
    private ref struct MeanRows(BandSlots bands, ToneValues? tone, float[]? gaussian, int width) : IBandRows
    {
        private ReadOnlySpan<float> _source;
        private int _slot = -1, _count;

        public readonly int Planes => bands.Channels;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddTo(in BandRun run, Span<float> target, int cell, int plane)
        {
            if (run.Slot != _slot)
            {
                _source = bands.Of(run.Slot, out _count);
                _slot = run.Slot;
            }
            var weight = gaussian is null ? default : gaussian.AsSpan(run.Y * width + run.X, run.Length);
            for (var c = 0; c < bands.Channels; c++)
                SyncKernels.AddTransformed(_source.Slice(c * _count + run.Band, run.Length), tone?.Of(run.Slot, c), weight, target.Slice(c * plane + cell, run.Length));
        }
    }

    /// <summary>g·t per channel (the consensus numerator).</summary>
    private readonly ref struct ConsensusRows(CanvasKernels.TokenSource tokens, float[] gaussian, int width) : IBandRows
    {
        private readonly CanvasKernels.TokenSource _tokens = tokens;

        public int Planes => _tokens.Channels;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddTo(in BandRun run, Span<float> target, int cell, int plane)
        {
            _tokens.AddRows(run.Slot, run.Y, run.X, gaussian.AsSpan(run.Y * width + run.X, run.Length), target[cell..], plane);
        }
    }

    /// <summary>d = Σ_c (Q − t)², stored per sent window cell; contributes g·d (the disagreement numerator).</summary>
    private readonly ref struct DistanceRows(CanvasKernels.TokenSource tokens, ReadOnlySpan<float> consensus, int cells, Span<float> distances,
        int[] bandOffsets, float[] gaussian, int width) : IBandRows
    {
        private readonly CanvasKernels.TokenSource _tokens = tokens;
        private readonly ReadOnlySpan<float> _consensus = consensus;
        private readonly Span<float> _distances = distances;

        public int Planes => 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddTo(in BandRun run, Span<float> target, int cell, int plane)
        {
            var distance = _distances.Slice(bandOffsets[run.Slot] + run.Band, run.Length);
            _tokens.SquaredDistances(run.Slot, run.Y, run.X, _consensus[run.Cell..], cells, distance);
            SyncKernels.AddTransformed(distance, null, gaussian.AsSpan(run.Y * width + run.X, run.Length), target.Slice(cell, run.Length));
        }
    }

    /// <summary>w = g·exp(logit(d, V)) (<see cref="CanvasKernels.Weight"/>) and w·v per channel (v toned), with w itself as
    /// the last plane.</summary>
    private ref struct WeightedRows(BandSlots bands, ToneValues? tone, float[] gaussian, Span<float> distances, ReadOnlySpan<float> disagreement, float lambda,
        int[] bandOffsets, int width) : IBandRows
    {
        private readonly Span<float> _distances = distances;
        private readonly ReadOnlySpan<float> _disagreement = disagreement;
        private readonly float[] _weight = new float[width];
        private ReadOnlySpan<float> _source;
        private int _slot = -1, _count;

        public readonly int Planes => bands.Channels + 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddTo(in BandRun run, Span<float> target, int cell, int plane)
        {
            if (run.Slot != _slot)
            {
                _source = bands.Of(run.Slot, out _count);
                _slot = run.Slot;
            }
            var channels = bands.Channels;
            var weight = _weight.AsSpan(0, run.Length);
            CanvasKernels.Weight(_distances.Slice(bandOffsets[run.Slot] + run.Band, run.Length), _disagreement.Slice(run.Cell, run.Length), lambda,
                gaussian.AsSpan(run.Y * width + run.X, run.Length), weight);
            for (var c = 0; c < channels; c++)
                SyncKernels.AddTransformed(_source.Slice(c * _count + run.Band, run.Length), tone?.Of(run.Slot, c), weight, target.Slice(c * plane + cell, run.Length));
            SyncKernels.Add(target.Slice(channels * plane + cell, run.Length), weight);
        }
    }
}
