using System.Collections.Concurrent;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>What tile <see cref="Tile"/> sends up after a step: its proposal at <see cref="TileBands.SendPositions"/>
/// ([C, n]), for attention sync its pooled token cells ([C, rows, columns]; null when the content term is off) and its
/// per-channel mean and spread ([2, C]), and its preview thumbnail (<see cref="PreviewMosaic"/>).</summary>
public sealed record BandUpload(int Tile, Tensor Bands, Tensor? Pooled, Tensor? Statistics, Tensor Thumbnail) : IDisposable
{
    public void Dispose()
    {
        Bands.Dispose();
        Pooled?.Dispose();
        Statistics?.Dispose();
        Thumbnail.Dispose();
    }
}

/// <summary>What tile <see cref="Tile"/> gets back: the synced values of its shared cells ([C, n] in
/// <see cref="TileBands.SharedCells"/> order), of the context cells it reads outside its window ([C, m] in
/// <see cref="TileBands.ContextCells"/> order), and for attention sync its tone correction ([2, C]: scale, shift; null
/// when the pull has decayed to zero).</summary>
public sealed record BandReply(int Tile, Tensor Shared, Tensor Context, Tensor? Tone) : IDisposable
{
    public void Dispose()
    {
        Shared.Dispose();
        Context.Dispose();
        Tone?.Dispose();
    }
}

/// <summary>One tile's part of the band exchange (cells are flat canvas indices y·W + x, positions are row-major
/// indices into the tile's h×w window).</summary>
/// <param name="SendPositions">window positions the tile sends: cells another window also covers, and cells another
/// tile reads as context.</param>
/// <param name="SharedCells">cells of the window that another window covers too (they come back synced).</param>
/// <param name="SharedPositions">the window positions of <paramref name="SharedCells"/>.</param>
/// <param name="ContextCells">distinct cells outside the window that the tile's next state (window plus context) reads.</param>
public sealed record TileBands(int Tile, int[] SendPositions, int[] SharedCells, int[] SharedPositions, int[] ContextCells);

/// <summary>Bytes moved per step, both directions together, against the per-membership lower bound: every cell in more
/// than one window counted once per window containing it × channels × 4 bytes × 2 directions, plus the context cells
/// tiles read outside their windows (× channels × 4 bytes, once).</summary>
/// <param name="FullWindow">today's exchange: every window up, every window plus context down.</param>
/// <param name="Preview">the part of <paramref name="Up"/> that is preview thumbnails (not needed by the sync).</param>
public sealed record ExchangeBytes(long Up, long Down, long LowerBound, long FullWindow, long Preview = 0)
{
    public long PerStep => Up + Down;

    /// <summary>Band bytes over the lower bound (NaN where the bound is 0: nothing needs to move).</summary>
    public double Ratio => LowerBound == 0 ? double.NaN : (double)PerStep / LowerBound;

    /// <summary>The sync's own bytes (without the preview) over the lower bound.</summary>
    public double SyncRatio => LowerBound == 0 ? double.NaN : (double)(PerStep - Preview) / LowerBound;

    public double FullWindowRatio => LowerBound == 0 ? double.NaN : (double)FullWindow / LowerBound;
}

/// <summary>
/// Band-only sync between checkpoints: a tile sends only what its sync mode needs and receives only its synced shared
/// cells, the context cells it reads and its tone parameters; <see cref="Apply"/> turns its own proposal plus the reply
/// into exactly (bit for bit) the update the full-window <see cref="ISyncMode.Synchronize"/> would have sent. Cells that
/// only the tile's own window covers are computed on the tile with the very arithmetic the coordinator uses there
/// (<see cref="SyncGeometry.Lone"/>); the coordinator runs the full-window math on a zero-filled stack holding the bands
/// (cells it was not sent are never read back). Built once per job plan; thread-safe.
/// </summary>
public sealed class BandExchange
{
    private readonly TileBands[] _tiles;
    // Coordinator side only, built on its first sync (tile processes never need them):
    private readonly Lazy<Tensor> _scatter;    // [Σ send] element of the grid-order stack each sent value lands on
    private readonly Lazy<Tensor> _reply;      // [Σ (shared + context)] canvas cell of each replied value, tile order
    private readonly ConcurrentDictionary<int, Lazy<Tensor>> _state = new(); // per tile [(h + 2c)(w + 2c)] into [own window | shared | context], built for the tiles a process hosts
    private readonly long[] _cells;            // token cells of a window (attention)

    private BandExchange(JobPlan plan, ISyncMode sync)
    {
        Plan = plan;
        Sync = sync;
        Preview = new PreviewMosaic(plan.Layout);
        var layout = plan.Layout;
        var geometry = SyncGeometry.Of(layout);
        var windowCells = geometry.WindowCells;
        var cropWidth = layout.TileWidth + 2 * plan.Context;

        // Cells some tile reads as context outside its own window.
        var readAsContext = new bool[geometry.CanvasCells];
        var stamp = new int[geometry.CanvasCells];
        for (var t = 0; t < layout.Count; t++)
        {
            Mark(geometry.CropCells(t, 0), t);
            foreach (var cell in geometry.CropCells(t, plan.Context))
                if (stamp[cell] != t + 1) readAsContext[cell] = true;
        }

        _tiles = new TileBands[layout.Count];
        for (var t = 0; t < layout.Count; t++)
        {
            var window = geometry.CropCells(t, 0);
            Mark(window, t);
            var send = new List<int>();
            var sharedCells = new List<int>();
            var sharedPositions = new List<int>();
            for (var p = 0; p < window.Length; p++)
            {
                var shared = geometry.Coverage[window[p]] > 1;
                if (shared || readAsContext[window[p]]) send.Add(p);
                if (!shared) continue;
                sharedCells.Add(window[p]);
                sharedPositions.Add(p);
            }
            var context = new List<int>();
            var contextIndex = new HashSet<int>();
            foreach (var cell in geometry.CropCells(t, plan.Context))
                if (stamp[cell] != t + 1 && contextIndex.Add(cell)) context.Add(cell);
            _tiles[t] = new TileBands(t, [.. send], [.. sharedCells], [.. sharedPositions], [.. context]);
        }
        _scatter = new Lazy<Tensor>(() => SyncGeometry.Index(ScatterCells()).DetachFromDisposeScope());
        _reply = new Lazy<Tensor>(() => SyncGeometry.Index([.. _tiles.SelectMany(b => b.SharedCells.Concat(b.ContextCells))]).DetachFromDisposeScope());
        _cells = sync is AttentionSync attention ? attention.TokenCells(layout.TileHeight, layout.TileWidth) : [];
        var thumbnailCells = (long)((layout.TileHeight + Preview.Factor - 1) / Preview.Factor) * ((layout.TileWidth + Preview.Factor - 1) / Preview.Factor);
        Bytes = Count(plan, sync, _tiles, windowCells, cropWidth * (layout.TileHeight + 2 * plan.Context), _cells, thumbnailCells);

        void Mark(int[] cells, int tile)
        {
            foreach (var cell in cells) stamp[cell] = tile + 1;
        }
    }

    public static BandExchange Create(JobPlan plan, ISyncMode sync) => new(plan, sync);

    public JobPlan Plan { get; }
    public ISyncMode Sync { get; }

    /// <summary>How the tiles' thumbnails make the preview of a band-only step.</summary>
    public PreviewMosaic Preview { get; }

    /// <summary>False for <see cref="SyncMode.None"/>: tiles keep their proposals and nothing moves until the last step.</summary>
    public bool Exchanges => Sync.Mode != SyncMode.None;

    public IReadOnlyList<TileBands> Tiles => _tiles;

    /// <summary>Bytes per step of this exchange (all tiles), the lower bound and today's full-window exchange.</summary>
    public ExchangeBytes Bytes { get; }

    /// <summary>Tile side, after its denoise step: what to send for <paramref name="proposal"/> [C, h, w].</summary>
    public BandUpload Upload(int tile, Tensor proposal)
    {
        using var scope = NewDisposeScope();
        var channels = proposal.shape[0];
        var thumbnail = Preview.Thumbnail(proposal);
        if (!Exchanges) return Detach(new BandUpload(tile, zeros(channels, 0L), null, null, thumbnail));
        var positions = SyncGeometry.Index(_tiles[tile].SendPositions);
        if (positions.device_type != proposal.device_type) positions = positions.to(proposal.device);
        var bands = proposal.reshape(channels, -1).index_select(1, positions);
        Tensor? pooled = null, statistics = null;
        if (Sync is AttentionSync attention)
        {
            var own = proposal.view(channels, 1, proposal.shape[1], proposal.shape[2]);
            if (attention.UsesTokens) pooled = attention.Pool(own).squeeze(1);
            var (mean, spread) = AttentionSync.Statistics(own);
            statistics = cat([mean, spread]);
        }
        return Detach(new BandUpload(tile, bands, pooled, statistics, thumbnail));
    }

    /// <summary>Coordinator side: every tile's reply from every tile's upload (any order), for step <paramref name="step"/>
    /// of <paramref name="steps"/>.</summary>
    public IReadOnlyList<BandReply> Synchronize(IReadOnlyList<BandUpload> uploads, int step, int steps)
    {
        using var scope = NewDisposeScope();
        var layout = Plan.Layout;
        var geometry = SyncGeometry.Of(layout);
        var byTile = new BandUpload[layout.Count];
        foreach (var upload in uploads) byTile[upload.Tile] = upload;
        if (byTile.Any(u => u is null)) throw new ArgumentException($"expected one upload from each of the {layout.Count} tiles", nameof(uploads));
        var channels = byTile[0].Bands.shape[0];
        if (!Exchanges)
            return byTile.Select(u => Detach(new BandReply(u.Tile, zeros(channels, 0L), zeros(channels, 0L), null))).ToArray();

        // The bands in a zero-filled stack [C, T, h, w] (grid order); the full-window math reads only cells it was sent.
        var bands = cat(byTile.Select(u => u.Bands).ToArray(), 1);
        var flat = zeros(channels, (long)layout.Count * geometry.WindowCells);
        for (var c = 0; c < channels; c++) flat[c].index_copy_(0, _scatter.Value, bands[c]);
        var stacked = flat.view(channels, layout.Count, layout.TileHeight, layout.TileWidth);

        Tensor canvas;
        Tensor? scale = null, shift = null;
        switch (Sync)
        {
            case AttentionSync attention:
                var ordered = geometry.GridToTile.Select(t => byTile[t]).ToArray();
                var tokens = attention.UsesTokens ? stack(ordered.Select(u => u.Pooled!).ToArray(), 1) : null;
                var means = stack(ordered.Select(u => u.Statistics![0]).ToArray());
                var spreads = stack(ordered.Select(u => u.Statistics![1]).ToArray());
                var tone = attention.Tone(geometry, step, steps, means, spreads);
                if (tone is var (s, b)) (scale, shift) = (s, b);
                canvas = attention.Blend(geometry, stacked, tokens, means, tone);
                break;
            default:
                canvas = CanvasSync.Mean(geometry, stacked, Sync.Mode == SyncMode.Gaussian);
                break;
        }

        var cells = canvas.view(channels, -1);
        var rows = new Tensor[channels];
        for (var c = 0; c < channels; c++) rows[c] = cells[c].index_select(0, _reply.Value);
        var replied = stack(rows);
        var replies = new BandReply[layout.Count];
        long offset = 0;
        for (var t = 0; t < layout.Count; t++)
        {
            var bandsOf = _tiles[t];
            var shared = replied.narrow(1, offset, bandsOf.SharedCells.Length).clone();
            offset += bandsOf.SharedCells.Length;
            var context = replied.narrow(1, offset, bandsOf.ContextCells.Length).clone();
            offset += bandsOf.ContextCells.Length;
            var slot = geometry.TileToGrid[t];
            var toneOf = scale is null ? null : stack([scale[slot], shift![slot]]);
            replies[t] = Detach(new BandReply(t, shared, context, toneOf));
        }
        return replies;
    }

    /// <summary>Tile side: the tile's next state (window plus context, [C, h + 2c, w + 2c]) from its own proposal
    /// [C, h, w] and its reply, equal bit for bit to the full-window sync's update (its own proposal for
    /// <see cref="SyncMode.None"/>).</summary>
    public Tensor Apply(int tile, Tensor proposal, BandReply reply)
    {
        if (!Exchanges) return proposal.clone();
        using var scope = NewDisposeScope();
        var layout = Plan.Layout;
        var (channels, height, width) = (proposal.shape[0], layout.TileHeight, layout.TileWidth);
        var lone = SyncGeometry.Lone(height, width);
        var own = proposal.view(channels, 1, height, width);
        Tensor local;
        switch (Sync)
        {
            case AttentionSync attention:
                var tokens = attention.UsesTokens ? attention.Pool(own) : null;
                var (means, _) = AttentionSync.Statistics(own);
                (Tensor, Tensor)? tone = reply.Tone is null ? null : (reply.Tone[0].view(1, -1), reply.Tone[1].view(1, -1));
                local = attention.Blend(lone, own, tokens, means, tone);
                break;
            default:
                local = CanvasSync.Mean(lone, own, Sync.Mode == SyncMode.Gaussian);
                break;
        }
        var sources = cat([local.view(channels, -1), reply.Shared, reply.Context], 1);
        var rows = new Tensor[channels];
        var state = StateIndex(tile);
        if (state.device_type != sources.device_type) state = state.to(sources.device);
        for (var c = 0; c < channels; c++) rows[c] = sources[c].index_select(0, state);
        return stack(rows).view(channels, height + 2 * Plan.Context, width + 2 * Plan.Context).MoveToOuterDisposeScope();
    }

    /// <summary>Where each tile's sent values land in the grid-order stack of windows.</summary>
    private int[] ScatterCells()
    {
        var geometry = SyncGeometry.Of(Plan.Layout);
        return [.. _tiles.SelectMany(b => b.SendPositions.Select(p => geometry.TileToGrid[b.Tile] * geometry.WindowCells + p))];
    }

    /// <summary>Where each cell of tile <paramref name="tile"/>'s next state comes from, in [own window | shared |
    /// context] order (computed once per tile, only in the processes that apply its replies).</summary>
    private Tensor StateIndex(int tile) => _state.GetOrAdd(tile, t => new Lazy<Tensor>(() =>
    {
        var geometry = SyncGeometry.Of(Plan.Layout);
        var bands = _tiles[t];
        var windowCells = geometry.WindowCells;
        var window = geometry.CropCells(t, 0);
        var positionOf = new Dictionary<int, int>(window.Length);
        for (var p = 0; p < window.Length; p++) positionOf[window[p]] = p;
        var sharedIndex = new Dictionary<int, int>(bands.SharedPositions.Length);
        for (var k = 0; k < bands.SharedPositions.Length; k++) sharedIndex[bands.SharedPositions[k]] = k;
        var contextIndex = new Dictionary<int, int>(bands.ContextCells.Length);
        for (var c = 0; c < bands.ContextCells.Length; c++) contextIndex[bands.ContextCells[c]] = c;
        var crop = geometry.CropCells(t, Plan.Context);
        var state = new int[crop.Length];
        for (var s = 0; s < crop.Length; s++)
            state[s] = positionOf.TryGetValue(crop[s], out var p)
                ? sharedIndex.TryGetValue(p, out var k) ? windowCells + k : p
                : windowCells + bands.SharedCells.Length + contextIndex[crop[s]];
        return SyncGeometry.Index(state).DetachFromDisposeScope();
    })).Value;

    private static ExchangeBytes Count(JobPlan plan, ISyncMode sync, TileBands[] tiles, int windowCells, int stateCells, long[] tokenCells,
        long thumbnailCells)
    {
        long channelBytes = plan.Channels * sizeof(float);
        var sharedMemberships = tiles.Sum(t => (long)t.SharedCells.Length);
        var contextCells = tiles.Sum(t => (long)t.ContextCells.Length);
        var bound = channelBytes * (2 * sharedMemberships + contextCells);
        var full = channelBytes * tiles.Length * ((long)windowCells + stateCells);
        var thumbnails = channelBytes * tiles.Length * thumbnailCells;             // the preview, not the sync: outside the bound
        if (sync.Mode == SyncMode.None) return new ExchangeBytes(thumbnails, 0, 0, 0, thumbnails);
        var up = channelBytes * tiles.Sum(t => (long)t.SendPositions.Length) + thumbnails;
        var down = channelBytes * (sharedMemberships + contextCells);
        if (sync is AttentionSync attention)
        {
            var perTile = 2 * channelBytes;                                               // mean and spread up, scale and shift down
            up += tiles.Length * (perTile + (attention.UsesTokens ? channelBytes * tokenCells[0] * tokenCells[1] : 0));
            down += tiles.Length * perTile;
        }
        return new ExchangeBytes(up, down, bound, full, thumbnails);
    }

    private static BandUpload Detach(BandUpload upload)
    {
        upload.Bands.MoveToOuterDisposeScope();
        upload.Pooled?.MoveToOuterDisposeScope();
        upload.Statistics?.MoveToOuterDisposeScope();
        upload.Thumbnail.MoveToOuterDisposeScope();
        return upload;
    }

    private static BandReply Detach(BandReply reply)
    {
        reply.Shared.MoveToOuterDisposeScope();
        reply.Context.MoveToOuterDisposeScope();
        reply.Tone?.MoveToOuterDisposeScope();
        return reply;
    }
}
