using System.Buffers;
using System.Runtime.InteropServices;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>
/// One tile's side of the band exchange, on the floats of its proposal [C, h, w]: its upload, written straight into the
/// payloads that travel, and its next state from its reply. The cells only its own window covers are computed with the
/// coordinator's band kernels on the lone window (<see cref="SyncGeometry.Lone"/>) restricted to those cells, so they get
/// the bits the full-window sync gives them and the shared cells, which the reply overwrites, are never computed.
/// Built once per tile, in the processes that host it; thread-safe (no state between calls).
/// </summary>
internal sealed class TileSide
{
    private readonly ISyncMode _sync;
    private readonly PreviewMosaic _preview;
    private readonly int _channels, _height, _width, _stateCells;
    private readonly CopyRuns _send;           // the upload's cells, from the window
    private readonly SyncGeometry _lone;
    private readonly BandCanvas _ownCells;     // the lone window's cells no other window covers
    private readonly float[] _totals;          // their weight totals (count or Gaussian)
    private readonly int[] _ownOffsets;        // the lone window's "upload" is the whole proposal
    private readonly int _shared, _context;    // cells the reply carries
    private readonly CopyRuns _state;          // each state cell from [own cells | shared | context]

    public TileSide(JobPlan plan, ISyncMode sync, PreviewMosaic preview, TileBands bands)
    {
        var layout = plan.Layout;
        (_sync, _preview, _channels, _height, _width) = (sync, preview, plan.Channels, layout.TileHeight, layout.TileWidth);
        _stateCells = (_height + 2 * plan.Context) * (_width + 2 * plan.Context);
        _send = CopyRuns.Of(bands.SendPositions, p => p);
        var windowCells = _height * _width;
        var shared = new HashSet<int>(bands.SharedPositions);
        var own = Enumerable.Range(0, windowCells).Where(p => !shared.Contains(p)).ToArray();
        _lone = SyncGeometry.Lone(_height, _width);
        _ownCells = new BandCanvas(_lone, [new TileBands(0, Enumerable.Range(0, windowCells).ToArray(), own, own, [], [])]);
        _totals = BandKernels.Totals(_ownCells, sync.Mode is SyncMode.Gaussian or SyncMode.Attention ? _lone.GaussianValues : null, _width);
        _ownOffsets = [0, windowCells];
        (_shared, _context) = (bands.SharedCells.Length, bands.ContextCells.Length);

        var geometry = SyncGeometry.Of(layout);
        var window = geometry.CropCells(bands.Tile, 0);
        var ownIndex = new Dictionary<int, int>(own.Length);
        foreach (var p in own) ownIndex[window[p]] = _ownCells.IndexOf(p, _width);
        var sharedIndex = new Dictionary<int, int>(bands.SharedCells.Length);
        for (var k = 0; k < bands.SharedCells.Length; k++) sharedIndex[bands.SharedCells[k]] = _ownCells.Count + k;
        var contextIndex = new Dictionary<int, int>(bands.ContextCells.Length);
        for (var k = 0; k < bands.ContextCells.Length; k++) contextIndex[bands.ContextCells[k]] = _ownCells.Count + _shared + k;
        _state = CopyRuns.Of(geometry.CropCells(bands.Tile, plan.Context),
            cell => ownIndex.TryGetValue(cell, out var i) || sharedIndex.TryGetValue(cell, out i) ? i : contextIndex[cell]);
    }

    /// <summary>What tile <paramref name="tile"/> sends for its proposal <paramref name="values"/> [C × h × w].</summary>
    public BandUpload Upload(int tile, ReadOnlySpan<float> values, bool exchanges)
    {
        var planeCells = _height * _width;
        var thumbnail = _preview.Thumbnail(values, _channels, _height, _width);
        if (!exchanges) return new BandUpload(tile, BandExchange.Empty(_channels), null, null, thumbnail);
        var bands = TensorPayloads.Uninitialized(_channels, _send.Count);
        var sent = TensorPayloads.Floats(bands);
        for (var c = 0; c < _channels; c++) _send.Copy(values.Slice(c * planeCells, planeCells), sent.Slice(c * _send.Count, _send.Count));
        TensorPayload? pooled = null, statistics = null;
        if (_sync is AttentionSync attention)
        {
            if (attention.UsesTokens)
            {
                var cells = attention.TokenCells(_height, _width);
                pooled = new TensorPayload([_channels, (int)cells[0], (int)cells[1]], GC.AllocateUninitializedArray<byte>((int)(_channels * cells[0] * cells[1] * sizeof(float))));
                SyncKernels.PoolPlanes(values, _height, _width, (int)cells[0], (int)cells[1], TensorPayloads.Floats(pooled));
            }
            statistics = TensorPayloads.Uninitialized(2, _channels);
            var meanThenSpread = TensorPayloads.Floats(statistics);
            Statistics(values, meanThenSpread[.._channels], meanThenSpread[_channels..]);
        }
        return new BandUpload(tile, bands, pooled, statistics, thumbnail);
    }

    /// <summary>The tile's next state [C × (h + 2c) × (w + 2c)] into <paramref name="state"/>, from its proposal
    /// <paramref name="values"/> and its reply's parts (checked by the caller): its own cells as the sync computes them,
    /// the shared and context cells as received.</summary>
    public void Apply(ReadOnlySpan<float> values, ReadOnlySpan<float> shared, ReadOnlySpan<float> context, ReadOnlySpan<float> tone, Span<float> state)
    {
        var (channels, ownCount) = (_channels, _ownCells.Count);
        var planeCells = _height * _width;
        var sourceCells = ownCount + _shared + _context;
        var proposal = ArrayPool<byte>.Shared.Rent(channels * planeCells * sizeof(float));
        var sums = ScratchFloats.Rent((channels + 1) * ownCount);
        var sources = ScratchFloats.Rent(channels * sourceCells);
        try
        {
            // The band kernels read uploads as the bytes that arrived; the lone window's upload is the whole proposal.
            values.CopyTo(MemoryMarshal.Cast<byte, float>(proposal.AsSpan()));
            var slots = new BandSlots([proposal], channels, _ownOffsets);
            var attention = _sync as AttentionSync;
            var toneValues = attention is null || tone.IsEmpty ? null : Tone(values, tone);
            if (attention is { UsesTokens: true })
            {
                var cells = attention.TokenCells(_height, _width);
                var (rows, columns) = ((int)cells[0], (int)cells[1]);
                var pooled = new float[channels * rows * columns];
                SyncKernels.PoolPlanes(values, _height, _width, rows, columns, pooled);
                BandKernels.Attention(_ownCells, _lone, slots, pooled, rows, columns, toneValues, _totals, _ownOffsets,
                    attention.Options.ContentStrength, sums, static _ => { });
            }
            else
            {
                var gaussian = _sync.Mode is SyncMode.Gaussian or SyncMode.Attention ? _lone.GaussianValues : null;
                BandKernels.Mean(_ownCells, slots, toneValues, gaussian, _totals, _width, sums.AsSpan(0, channels * ownCount), static _ => { });
            }
            // [own | shared | context] per channel, then each state cell from there.
            var source = sources.AsSpan(0, channels * sourceCells);
            for (var c = 0; c < channels; c++)
            {
                var plane = source.Slice(c * sourceCells, sourceCells);
                sums.AsSpan(c * ownCount, ownCount).CopyTo(plane);
                shared.Slice(c * _shared, _shared).CopyTo(plane[ownCount..]);
                context.Slice(c * _context, _context).CopyTo(plane[(ownCount + _shared)..]);
                _state.Copy(plane, state.Slice(c * _stateCells, _stateCells));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(proposal);
            ScratchFloats.Return(sums);
            ScratchFloats.Return(sources);
        }
    }

    /// <summary>The reply's tone (scale, then shift, per channel) about the proposal's own channel means.</summary>
    private ToneValues Tone(ReadOnlySpan<float> values, ReadOnlySpan<float> tone)
    {
        var (means, spreads) = (new float[_channels], new float[_channels]);
        Statistics(values, means, spreads);
        return new ToneValues(_channels, means, tone[.._channels].ToArray(), tone[_channels..].ToArray());
    }

    private void Statistics(ReadOnlySpan<float> values, Span<float> means, Span<float> spreads)
    {
        var planeCells = _height * _width;
        for (var c = 0; c < _channels; c++) (means[c], spreads[c]) = SyncKernels.Statistics(values.Slice(c * planeCells, planeCells));
    }
}
