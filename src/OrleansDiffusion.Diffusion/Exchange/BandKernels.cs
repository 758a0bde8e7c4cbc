using System.Buffers;
using System.Runtime.CompilerServices;
using OrleansDiffusion.Diffusion.Sync;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>Every grid slot's upload ([C, n] floats at its sent positions), read in place.</summary>
internal sealed class BandSlots(Tensor[] bands, int channels)
{
    public int Channels => channels;

    /// <summary>The floats of <paramref name="slot"/>'s upload: channel c's values start at c·<paramref name="count"/>.</summary>
    public ReadOnlySpan<float> Of(int slot, out int count)
    {
        count = (int)bands[slot].size(1);
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
    /// <summary>target [M × cells] (zeroed) += Σ over runs, as <see cref="SyncKernels.Accumulate"/> sums: a tile row's
    /// windows column by column into its strip where an earlier tile row reaches the canvas row, the strip into the target.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate<T>(BandCanvas canvas, scoped ref T source, Span<float> target)
        where T : IBandRows, allows ref struct
    {
        var planes = source.Planes;
        var stripBuffer = ArrayPool<float>.Shared.Rent(Math.Max(1, planes * canvas.StripCells));
        try
        {
            var strip = stripBuffer.AsSpan(0, planes * canvas.StripCells);
            for (var row = 0; row < canvas.Strips.Length; row++)
            {
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
        }
        finally
        {
            ArrayPool<float>.Shared.Return(stripBuffer);
        }
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
    /// its sums), v toned where <paramref name="tone"/> is given.</summary>
    public static void Mean(BandCanvas canvas, BandSlots bands, ToneValues? tone, float[]? gaussian, float[] totals, int width, Span<float> values)
    {
        values.Clear();
        var source = new MeanRows(bands, tone, gaussian, width);
        Accumulate(canvas, ref source, values);
        for (var c = 0; c < bands.Channels; c++) SyncKernels.Divide(values.Slice(c * canvas.Count, canvas.Count), totals);
    }

    /// <summary>Attention's content-weighted consensus (<see cref="CanvasKernels.Attention"/>) on the band cells: tokens from
    /// the pooled cells [C, T, rows, columns], Q, d, V and the weights as there. <paramref name="sums"/> [(C + 1) × cells]
    /// holds the result in its first C planes (the last is scratch). Scratch comes from the shared pool: fresh each step,
    /// buffers this size cost about as much in page faults as the arithmetic.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attention(BandCanvas canvas, SyncGeometry geometry, BandSlots bands, ReadOnlySpan<float> pooled, int rows, int columns, ToneValues? tone,
        float[] gaussianTotals, int[] bandOffsets, double lambda, Span<float> sums)
    {
        var layout = geometry.Layout;
        var (channels, count, cells) = (bands.Channels, layout.Count, canvas.Count);
        var (height, width) = (layout.TileHeight, layout.TileWidth);
        var gaussian = geometry.GaussianValues;
        var acrossBuffer = ArrayPool<float>.Shared.Rent(count * channels * rows * width);
        var distanceBuffer = ArrayPool<float>.Shared.Rent(bandOffsets[^1]);
        var disagreementBuffer = ArrayPool<float>.Shared.Rent(cells);
        try
        {
            var tokens = CanvasKernels.TokenSource.Spread(pooled, count, height, width, rows, columns, tone, acrossBuffer);

            // Q at the band cells.
            sums.Clear();
            var consensus = new ConsensusRows(tokens, gaussian, width);
            Accumulate(canvas, ref consensus, sums);
            for (var c = 0; c < channels; c++) SyncKernels.Divide(sums.Slice(c * cells, cells), gaussianTotals);

            // d per sent window cell (laid out like the uploads), V per band cell.
            var distances = distanceBuffer.AsSpan(0, bandOffsets[^1]);
            var disagreement = disagreementBuffer.AsSpan(0, cells);
            disagreement.Clear();
            var distance = new DistanceRows(tokens, sums[..(channels * cells)], cells, distances, bandOffsets, gaussian, width);
            Accumulate(canvas, ref distance, disagreement);
            SyncKernels.Divide(disagreement, gaussianTotals);

            // Σ w·v and Σ w (w from d and V as each run is added), then the weighted mean.
            sums.Clear();
            var weighted = new WeightedRows(bands, tone, gaussian, distances, disagreement, (float)lambda, bandOffsets, width);
            Accumulate(canvas, ref weighted, sums);
            var total = sums.Slice(channels * cells, cells);
            for (var c = 0; c < channels; c++) SyncKernels.Divide(sums.Slice(c * cells, cells), total);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(acrossBuffer);
            ArrayPool<float>.Shared.Return(distanceBuffer);
            ArrayPool<float>.Shared.Return(disagreementBuffer);
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
            var weight = gaussian.AsSpan(run.Y * width + run.X, run.Length);
            for (var c = 0; c < _tokens.Channels; c++) _tokens.AddRow(run.Slot, c, run.Y, weight, target.Slice(c * plane + cell, run.Length), run.X);
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
            for (var c = 0; c < _tokens.Channels; c++)
                _tokens.AddSquaredDistance(run.Slot, c, run.Y, _consensus.Slice(c * cells + run.Cell, run.Length), distance, run.X);
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
