using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>Every grid slot's upload ([C, n] floats at its sent positions, n from <paramref name="offsets"/>, checked by the
/// caller), read in place.</summary>
internal sealed class BandSlots(byte[][] bands, int channels, int[] offsets)
{
    public int Channels => channels;

    /// <summary>The floats of <paramref name="slot"/>'s upload (its bytes as they arrived): channel c's values start at
    /// c·<paramref name="count"/>.</summary>
    public ReadOnlySpan<float> Of(int slot, out int count)
    {
        count = offsets[slot + 1] - offsets[slot];
        return MemoryMarshal.Cast<byte, float>(bands[slot]);
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
            for (var row = 0; row < canvas.Strips.Length; row++) AccumulateRow(canvas, row, ref source, target, stripBuffer, canvas.Strips[row]);
        }
        finally
        {
            ScratchFloats.Return(stripBuffer);
        }
    }

    /// <summary>Tile row <paramref name="row"/>'s part of <see cref="Accumulate"/>: the cells of the canvas rows it reaches
    /// first start at zero, its windows are added column by column, into its <paramref name="strip"/> (M ×
    /// <see cref="BandCanvas.StripCells"/> floats) where an earlier tile row reaches the canvas row, then the strip rows
    /// <paramref name="added"/> (all of them, or those a chunk owns: <see cref="BandChunks"/>) into the target.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateRow<T>(BandCanvas canvas, int row, scoped ref T source, Span<float> target, Span<float> strip, IReadOnlyList<StripRow> added)
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
        AddStrips(canvas, planes, target, strip, added);
    }

    private static void AddStrips(BandCanvas canvas, int planes, Span<float> target, ReadOnlySpan<float> strip, IReadOnlyList<StripRow> added)
    {
        foreach (var stripRow in added)
            for (var m = 0; m < planes; m++)
                SyncKernels.Add(target.Slice(m * canvas.Count + stripRow.Cell, stripRow.Length), strip.Slice(m * canvas.StripCells + stripRow.Strip, stripRow.Length));
    }

    /// <summary>One pass of <see cref="Attention"/> on several threads: chunk by chunk side by side (<see cref="BandChunks"/>),
    /// each chunk's tile rows as <see cref="AccumulateRow"/> adds them and its own complete cells divided (planes [0,
    /// <paramref name="divided"/>) by <paramref name="divisor"/>); then, on this thread and in tile-row order, the strips of
    /// canvas rows two chunks reach and their division. <paramref name="rows"/> makes a chunk's source on its thread.</summary>
    private static void AccumulateChunks(BandCanvas canvas, BandChunks chunks, int planes, float[] target, int divided, float[] divisor, int divisorStart,
        RowsPass rows)
    {
        var cells = canvas.Count;
        var kept = new float[canvas.Strips.Length][];
        try
        {
            // Last chunk first: where the pool lends no second thread, one thread runs the chunks in the order that sums a
            // boundary's later tile row before its earlier one, so the bits prove every chunk order gives the same sums.
            Parallel.For(0, chunks.Count, new ParallelOptions { MaxDegreeOfParallelism = chunks.Count }, index =>
            {
                var chunk = chunks.Count - 1 - index;
                var scratch = ScratchFloats.Rent(Math.Max(1, planes * canvas.StripCells));
                try
                {
                    rows(chunk, kept, scratch);
                }
                finally
                {
                    ScratchFloats.Return(scratch);
                }
            });
            var values = target.AsSpan(0, planes * cells);
            var by = divisor.AsSpan(divisorStart, cells);
            for (var row = 0; row < kept.Length; row++)
                if (kept[row] is { } strip) AddStrips(canvas, planes, values, strip, chunks.SharedStrips[row]);
            for (var row = 0; row < kept.Length; row++) Divide(values, divided, cells, by, chunks.SharedComplete[row]);
        }
        finally
        {
            foreach (var strip in kept)
                if (strip is not null) ScratchFloats.Return(strip);
        }
    }

    /// <summary>A chunk's tile rows of one pass (<see cref="AccumulateChunk"/> with the pass's source), on the chunk's thread.</summary>
    private delegate void RowsPass(int chunk, float[]?[] kept, float[] scratch);

    /// <summary>Chunk <paramref name="chunk"/>'s tile rows in order; a row whose strip outlives the chunk pass gets its own
    /// buffer in <paramref name="kept"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateChunk<T>(BandCanvas canvas, BandChunks chunks, int chunk, scoped ref T source, Span<float> target, int divided,
        ReadOnlySpan<float> divisor, float[]?[] kept, float[] scratch)
        where T : IBandRows, allows ref struct
    {
        var planes = source.Planes;
        for (var row = chunks.First[chunk]; row < chunks.First[chunk + 1]; row++)
        {
            var strip = chunks.KeepsStrip(row) ? kept[row] = ScratchFloats.Rent(planes * canvas.StripCells) : scratch;
            AccumulateRow(canvas, row, ref source, target, strip, chunks.OwnStrips[row]);
            Divide(target, divided, canvas.Count, divisor, chunks.OwnComplete[row]);
        }
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
                AccumulateRow(canvas, row, ref source, values, stripBuffer, canvas.Strips[row]);
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
    /// <remarks>On one thread the three accumulations (Q, V, Σ w·v) run as a wavefront over tile rows: each tile row as soon
    /// as what it reads is complete at all its cells (<see cref="BandCanvas.Ready"/>), so the canvas rows and uploads it
    /// shares with the rows just done are still in cache; each cell gets the same sums in the same order as three whole
    /// passes, divided once complete, then <paramref name="complete"/>(row) as in <see cref="Mean"/>. With
    /// <paramref name="threads"/> &gt; 1 (and at least two tile rows per thread) each pass runs over chunks of tile rows side
    /// by side (<see cref="BandChunks"/>: the same bits), then <paramref name="complete"/> for each chunk's rows on its thread
    /// (so it must be thread-safe there): the coordinator's critical path shrinks with its cores. Scratch comes from <see cref="ScratchFloats"/>.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attention(BandCanvas canvas, SyncGeometry geometry, BandSlots bands, float[] pooled, int rows, int columns, ToneValues? tone,
        float[] gaussianTotals, int[] bandOffsets, double lambda, float[] sums, Action<int> complete, int threads = 1)
    {
        var layout = geometry.Layout;
        var (channels, count, cells) = (bands.Channels, layout.Count, canvas.Count);
        var (height, width) = (layout.TileHeight, layout.TileWidth);
        var gaussian = geometry.GaussianValues;
        var chunkCount = Math.Min(threads, layout.Rows / 2);
        var acrossBuffer = ScratchFloats.Rent(count * channels * rows * width);
        var consensusBuffer = ScratchFloats.Rent(channels * cells);
        var distanceBuffer = ScratchFloats.Rent(bandOffsets[^1]);
        var disagreementBuffer = ScratchFloats.Rent(cells);
        try
        {
            if (chunkCount >= 2)
            {
                Parallel.For(0, chunkCount, new ParallelOptions { MaxDegreeOfParallelism = chunkCount }, part =>
                    CanvasKernels.TokenSource.Spread(pooled, count, width, rows, columns, acrossBuffer, count * part / chunkCount, count * (part + 1) / chunkCount));
                var chunks = canvas.Chunks(chunkCount);
                var (total, weighted) = (channels * cells, (float)lambda);
                AccumulateChunks(canvas, chunks, channels, consensusBuffer, channels, gaussianTotals, 0, (chunk, kept, scratch) =>
                {
                    var source = new ConsensusRows(CanvasKernels.TokenSource.Over(acrossBuffer, count, channels, height, width, rows, tone), gaussian, width);
                    AccumulateChunk(canvas, chunks, chunk, ref source, consensusBuffer.AsSpan(0, channels * cells), channels, gaussianTotals, kept, scratch);
                });
                AccumulateChunks(canvas, chunks, 1, disagreementBuffer, 1, gaussianTotals, 0, (chunk, kept, scratch) =>
                {
                    var tokens = CanvasKernels.TokenSource.Over(acrossBuffer, count, channels, height, width, rows, tone);
                    var source = new DistanceRows(tokens, consensusBuffer.AsSpan(0, channels * cells), cells, distanceBuffer.AsSpan(0, bandOffsets[^1]), bandOffsets, gaussian, width);
                    AccumulateChunk(canvas, chunks, chunk, ref source, disagreementBuffer.AsSpan(0, cells), 1, gaussianTotals, kept, scratch);
                });
                AccumulateChunks(canvas, chunks, channels + 1, sums, channels, sums, total, (chunk, kept, scratch) =>
                {
                    var source = new WeightedRows(bands, tone, gaussian, distanceBuffer.AsSpan(0, bandOffsets[^1]), disagreementBuffer.AsSpan(0, cells), weighted, bandOffsets, width);
                    AccumulateChunk(canvas, chunks, chunk, ref source, sums.AsSpan(0, total + cells), channels, sums.AsSpan(total, cells), kept, scratch);
                });
                Parallel.For(0, chunks.Count, new ParallelOptions { MaxDegreeOfParallelism = chunks.Count }, chunk =>
                {
                    for (var row = chunks.First[chunk]; row < chunks.First[chunk + 1]; row++) complete(row);
                });
                return;
            }
            CanvasKernels.TokenSource.Spread(pooled, count, width, rows, columns, acrossBuffer);
            Wavefront(canvas, layout, channels, cells, CanvasKernels.TokenSource.Over(acrossBuffer, count, channels, height, width, rows, tone), bands, tone, gaussian,
                gaussianTotals, bandOffsets, (float)lambda, consensusBuffer.AsSpan(0, channels * cells), distanceBuffer.AsSpan(0, bandOffsets[^1]),
                disagreementBuffer.AsSpan(0, cells), sums.AsSpan(0, (channels + 1) * cells), complete);
        }
        finally
        {
            ScratchFloats.Return(acrossBuffer);
            ScratchFloats.Return(consensusBuffer);
            ScratchFloats.Return(distanceBuffer);
            ScratchFloats.Return(disagreementBuffer);
        }
    }

    /// <summary><see cref="Attention"/> on one thread: the three passes as a wavefront over tile rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wavefront(BandCanvas canvas, TileLayout layout, int channels, int cells, CanvasKernels.TokenSource tokens, BandSlots bands,
        ToneValues? tone, float[] gaussian, float[] gaussianTotals, int[] bandOffsets, float lambda, Span<float> consensus, Span<float> distances,
        Span<float> disagreement, Span<float> sums, Action<int> complete)
    {
        var width = layout.TileWidth;
        var stripCells = Math.Max(1, canvas.StripCells);
        var stripBuffer = ScratchFloats.Rent((2 * channels + 2) * stripCells);
        try
        {
            var consensusStrip = stripBuffer.AsSpan(0, channels * stripCells);
            var distanceStrip = stripBuffer.AsSpan(channels * stripCells, stripCells);
            var weightedStrip = stripBuffer.AsSpan((channels + 1) * stripCells, (channels + 1) * stripCells);
            // Q, V per band cell; d per sent window cell (laid out like the uploads).
            var consensusRows = new ConsensusRows(tokens, gaussian, width);
            var distanceRows = new DistanceRows(tokens, consensus, cells, distances, bandOffsets, gaussian, width);
            // Σ w·v and Σ w (w from d and V as each run is added).
            var weightedRows = new WeightedRows(bands, tone, gaussian, distances, disagreement, lambda, bandOffsets, width);
            var total = sums.Slice(channels * cells, cells);
            var (distanceRow, weightedRow) = (0, 0);
            for (var row = 0; row < layout.Rows; row++)
            {
                AccumulateRow(canvas, row, ref consensusRows, consensus, consensusStrip, canvas.Strips[row]);
                Divide(consensus, channels, cells, gaussianTotals, canvas.Complete[row]);
                for (; distanceRow < layout.Rows && canvas.Ready[distanceRow] <= row; distanceRow++)
                {
                    AccumulateRow(canvas, distanceRow, ref distanceRows, disagreement, distanceStrip, canvas.Strips[distanceRow]);
                    Divide(disagreement, 1, cells, gaussianTotals, canvas.Complete[distanceRow]);
                    for (; weightedRow <= distanceRow && canvas.Ready[weightedRow] <= distanceRow; weightedRow++)
                    {
                        AccumulateRow(canvas, weightedRow, ref weightedRows, sums, weightedStrip, canvas.Strips[weightedRow]);
                        Divide(sums, channels, cells, total, canvas.Complete[weightedRow]);
                        complete(weightedRow);
                    }
                }
            }
        }
        finally
        {
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
