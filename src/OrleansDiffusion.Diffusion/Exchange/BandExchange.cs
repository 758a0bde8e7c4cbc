using System.Collections.Concurrent;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>What tile <see cref="Tile"/> sends up after a step: its proposal at <see cref="TileBands.SendPositions"/>
/// ([C, n]), for attention sync its pooled token cells ([C, rows, columns]; null when the content term is off) and its
/// per-channel mean and spread ([2, C]), and its preview thumbnail (<see cref="PreviewMosaic"/>). Held as payloads: the
/// coordinator reads the bytes as they arrived, with no tensor and no copy.</summary>
public sealed record BandUpload(int Tile, TensorPayload Bands, TensorPayload? Pooled, TensorPayload? Statistics, TensorPayload Thumbnail)
{
    public long Bytes => new BandUploadPayload(Bands, Pooled, Statistics, Thumbnail).Bytes;

    public BandUploadPayload ToPayload() => new(Bands, Pooled, Statistics, Thumbnail);

    public static BandUpload From(int tile, BandUploadPayload payload) => new(tile, payload.Bands, payload.Pooled, payload.Statistics, payload.Thumbnail);
}

/// <summary>What tile <see cref="Tile"/> gets back: the synced values of its shared cells ([C, n] in
/// <see cref="TileBands.SharedCells"/> order), of the context cells it reads outside its window ([C, m] in
/// <see cref="TileBands.ContextCells"/> order), and for attention sync its tone correction ([2, C]: scale, shift; null
/// when the pull has decayed to zero). Held as payloads: the coordinator's sync writes them in place.</summary>
public sealed record BandReply(int Tile, TensorPayload Shared, TensorPayload Context, TensorPayload? Tone)
{
    public long Bytes => ToPayload().Bytes;

    public BandReplyPayload ToPayload() => new(Shared, Context, Tone);

    public static BandReply From(int tile, BandReplyPayload payload) => new(tile, payload.Shared, payload.Context, payload.Tone);
}

/// <summary>One tile's part of the band exchange (cells are flat canvas indices y·W + x, positions are row-major
/// indices into the tile's h×w window).</summary>
/// <param name="SendPositions">window positions the tile sends: cells another window also covers, and cells another
/// tile reads as context.</param>
/// <param name="SharedCells">cells of the window that another window covers too (they come back synced).</param>
/// <param name="SharedPositions">the window positions of <paramref name="SharedCells"/>.</param>
/// <param name="ContextCells">distinct cells outside the window that the tile's next state (window plus context) reads.</param>
/// <param name="ContextPositions">where each of <paramref name="ContextCells"/> first appears in the tile's state
/// (row-major in its (h + 2c)×(w + 2c) crop).</param>
public sealed record TileBands(int Tile, int[] SendPositions, int[] SharedCells, int[] SharedPositions, int[] ContextCells, int[] ContextPositions);

/// <summary>The part of the image tile <see cref="Tile"/> delivers after the last step: window rows <see cref="Rows"/> ×
/// window columns <see cref="Columns"/> (positions in its h×w window), which land on canvas rows <see cref="CanvasRows"/>
/// × columns <see cref="CanvasColumns"/>. The tiles' parts partition the canvas.</summary>
public sealed record OwnedCells(int Tile, int[] Rows, int[] Columns, int[] CanvasRows, int[] CanvasColumns);

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
/// (<see cref="SyncGeometry.Lone"/>); the coordinator runs the same formulas on the band cells alone
/// (<see cref="BandCanvas"/>, <see cref="BandKernels"/>), so neither the canvas nor the windows' other cells exist there.
/// Built once per job plan; thread-safe.
/// </summary>
public sealed class BandExchange
{
    private readonly BandMembership _membership;
    private readonly Lazy<TileBands>[] _tiles;             // built for the tiles a process hosts
    private readonly Lazy<CoordinatorTables> _coordinator; // built on the coordinator's first sync (tile processes never need it)
    private readonly Lazy<ExchangeBytes> _bytes;
    private readonly ConcurrentDictionary<int, Lazy<TileSide>> _sides = new(); // built for the tiles a process hosts

    private BandExchange(JobPlan plan, ISyncMode sync)
    {
        Plan = plan;
        Sync = sync;
        Preview = new PreviewMosaic(plan.Layout);
        var layout = plan.Layout;
        var geometry = SyncGeometry.Of(layout);
        _membership = new BandMembership(layout, plan.Context);
        _tiles = Enumerable.Range(0, layout.Count).Select(t => new Lazy<TileBands>(() => _membership.Of(t))).ToArray();
        // The coordinator needs every tile's bands once, to build its tables; it keeps the tables, not the bands.
        _coordinator = new Lazy<CoordinatorTables>(() => new CoordinatorTables(geometry, AllBands(), sync));
        _bytes = new Lazy<ExchangeBytes>(() =>
        {
            var tokenCells = sync is AttentionSync attention ? attention.TokenCells(layout.TileHeight, layout.TileWidth) : [];
            var thumbnailCells = (long)((layout.TileHeight + Preview.Factor - 1) / Preview.Factor) * ((layout.TileWidth + Preview.Factor - 1) / Preview.Factor);
            var stateCells = (layout.TileWidth + 2 * plan.Context) * (layout.TileHeight + 2 * plan.Context);
            return Count(plan, sync, AllBands(), geometry.WindowCells, stateCells, tokenCells, thumbnailCells);
        });
    }

    /// <summary>Every tile's bands: the ones this process holds, the others worked out and let go.</summary>
    private IEnumerable<TileBands> AllBands() => _tiles.Select((lazy, t) => lazy.IsValueCreated ? lazy.Value : _membership.Of(t));

    public static BandExchange Create(JobPlan plan, ISyncMode sync) => new(plan, sync);

    public JobPlan Plan { get; }
    public ISyncMode Sync { get; }

    /// <summary>How the tiles' thumbnails make the preview of a band-only step.</summary>
    public PreviewMosaic Preview { get; }

    /// <summary>False for <see cref="SyncMode.None"/>: tiles keep their proposals and nothing moves until the last step.</summary>
    public bool Exchanges => Sync.Mode != SyncMode.None;

    /// <summary>Tile <paramref name="tile"/>'s bands (worked out on first use, then kept).</summary>
    public TileBands Bands(int tile) => _tiles[tile].Value;

    /// <summary>Bytes per step of this exchange (all tiles), the lower bound and today's full-window exchange.</summary>
    public ExchangeBytes Bytes => _bytes.Value;

    /// <summary>The part of the image tile <paramref name="tile"/> delivers after the last step.</summary>
    public OwnedCells Owned(int tile) => _membership.Owned(tile);

    /// <summary>Tile side, after the last step: the cells of the image it owns ([C, rows, columns]) from its synced state
    /// [C, h + 2c, w + 2c] (<see cref="Apply"/> of its last reply, which equals the full-window sync's canvas there).</summary>
    public Tensor OwnedPart(int tile, Tensor state)
    {
        using var scope = NewDisposeScope();
        var owned = Owned(tile);
        var context = Plan.Context;
        var rows = SyncGeometry.Index(Array.ConvertAll(owned.Rows, y => y + context));
        var columns = SyncGeometry.Index(Array.ConvertAll(owned.Columns, x => x + context));
        if (rows.device_type != state.device_type) (rows, columns) = (rows.to(state.device), columns.to(state.device));
        return state.index_select(1, rows).index_select(2, columns).MoveToOuterDisposeScope();
    }

    /// <summary>Coordinator side: writes tile <paramref name="tile"/>'s <see cref="OwnedPart"/> into the image
    /// <paramref name="canvas"/> [C, H, W] (both float32 on the CPU).</summary>
    public void Place(Tensor canvas, int tile, Tensor part)
    {
        var owned = Owned(tile);
        var (channels, height, width) = (canvas.shape[0], (int)canvas.shape[1], (int)canvas.shape[2]);
        if (!part.shape.SequenceEqual([channels, owned.Rows.Length, owned.Columns.Length]))
            throw new ArgumentException($"tile {tile} delivered [{string.Join(", ", part.shape)}], expected [{channels}, {owned.Rows.Length}, {owned.Columns.Length}]", nameof(part));
        var cpu = SyncKernels.Cpu(part);
        try
        {
            Copy(SyncKernels.Floats(cpu), SyncKernels.Floats(canvas), owned, (int)channels, height, width);
        }
        finally
        {
            if (!ReferenceEquals(cpu, part)) cpu.Dispose();
        }
    }

    private static void Copy(ReadOnlySpan<float> source, Span<float> target, OwnedCells owned, int channels, int height, int width)
    {
        var columns = owned.CanvasColumns;
        var contiguous = columns.Length > 0 && columns[^1] - columns[0] == columns.Length - 1; // ascending without wrap: one copy per row
        var offset = 0;
        for (var c = 0; c < channels; c++)
            foreach (var row in owned.CanvasRows)
            {
                var line = target.Slice((c * height + row) * width, width);
                var values = source.Slice(offset, columns.Length);
                if (contiguous) values.CopyTo(line[columns[0]..]);
                else for (var k = 0; k < columns.Length; k++) line[columns[k]] = values[k];
                offset += columns.Length;
            }
    }

    /// <summary>Tile side, after its denoise step: what to send for <paramref name="proposal"/> [C, h, w] (read once on the
    /// CPU, in place where it lives there, and written straight into the payloads).</summary>
    public BandUpload Upload(int tile, Tensor proposal)
    {
        var cpu = Proposal(tile, proposal);
        try
        {
            return Side(tile).Upload(tile, SyncKernels.Floats(cpu), Exchanges);
        }
        finally
        {
            if (!ReferenceEquals(cpu, proposal)) cpu.Dispose();
        }
    }

    /// <summary>[C, 0]: nothing to move.</summary>
    internal static TensorPayload Empty(int channels) => new([channels, 0], []);

    /// <summary>Coordinator side: every tile's reply from every tile's upload (any order), for step <paramref name="step"/>
    /// of <paramref name="steps"/>, the attention sync on <paramref name="threads"/> threads (0: the process's compute
    /// threads, <see cref="TorchThreads"/>; the replies do not depend on it).</summary>
    public IReadOnlyList<BandReply> Synchronize(IReadOnlyList<BandUpload> uploads, int step, int steps, int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        var computeThreads = threads > 0 ? threads : TorchThreads.Effective;
        var layout = Plan.Layout;
        var geometry = SyncGeometry.Of(layout);
        var byTile = new BandUpload[layout.Count];
        foreach (var upload in uploads) byTile[upload.Tile] = upload;
        if (byTile.Any(u => u is null)) throw new ArgumentException($"expected one upload from each of the {layout.Count} tiles", nameof(uploads));
        var channels = Plan.Channels;
        if (!Exchanges)
            return byTile.Select(u => new BandReply(u.Tile, Empty(channels), Empty(channels), null)).ToArray();

        // The sync's formulas on the band cells alone, reading every upload's bytes in place.
        var tables = _coordinator.Value;
        var slots = new byte[layout.Count][];
        for (var slot = 0; slot < slots.Length; slot++)
        {
            var upload = byTile[geometry.GridToTile[slot]];
            Uploaded(upload.Bands, upload.Tile, "bands", channels, tables.BandOffsets[slot + 1] - tables.BandOffsets[slot]);
            slots[slot] = upload.Bands.Data;
        }
        var bands = new BandSlots(slots, channels, tables.BandOffsets);
        var width = layout.TileWidth;
        (float[] Scale, float[] Shift)? tone = null;
        var values = ScratchFloats.Rent((channels + 1) * tables.Canvas.Count);   // reused between steps where it is small enough (see ScratchFloats)
        BandReply[] replies = [];
        // Every reply's payloads at once, once the tone is known; their values as soon as their cells are final (copied
        // while they are in cache, into the very bytes that travel; the attention sync's chunks copy on their threads).
        void Allocate()
        {
            replies = new BandReply[layout.Count];
            for (var t = 0; t < replies.Length; t++)
            {
                var toneOf = tone is var (scale, shift) ? ToneOf(scale, shift, geometry.TileToGrid[t], channels) : null;
                replies[t] = new BandReply(t, TensorPayloads.Uninitialized(channels, tables.Shared[t].Count),
                    TensorPayloads.Uninitialized(channels, tables.Context[t].Count), toneOf);
            }
        }
        void Complete(int row)
        {
            var result = values.AsSpan(0, channels * tables.Canvas.Count);
            foreach (var t in tables.RepliesAt[row])
            {
                tables.Gather(result, tables.Shared[t], channels, replies[t].Shared);
                tables.Gather(result, tables.Context[t], channels, replies[t].Context);
            }
        }
        try
        {
            var result = values.AsSpan(0, channels * tables.Canvas.Count);
            switch (Sync)
            {
                case AttentionSync attention:
                    var ordered = geometry.GridToTile.Select(t => byTile[t]).ToArray();
                    var (means, spreads) = UploadedStatistics(ordered, channels);
                    tone = attention.Tone(geometry, step, steps, means, spreads, channels, computeThreads);
                    var toneValues = tone is var (s, b) ? new ToneValues(channels, means, s, b) : null;
                    Allocate();
                    if (attention.UsesTokens)
                    {
                        var cells = attention.TokenCells(layout.TileHeight, layout.TileWidth);
                        var (rows, columns) = ((int)cells[0], (int)cells[1]);
                        BandKernels.Attention(tables.Canvas, geometry, bands, UploadedCells(ordered, channels, rows, columns), rows, columns, toneValues,
                            tables.Totals, tables.BandOffsets, attention.Options.ContentStrength, values, Complete, computeThreads);
                    }
                    else BandKernels.Mean(tables.Canvas, bands, toneValues, geometry.GaussianValues, tables.Totals, width, result, Complete);
                    break;
                default:
                    Allocate();
                    BandKernels.Mean(tables.Canvas, bands, null, Sync.Mode == SyncMode.Gaussian ? geometry.GaussianValues : null, tables.Totals, width, result, Complete);
                    break;
            }
            return replies;
        }
        finally
        {
            ScratchFloats.Return(values);
        }
    }

    /// <summary>Every slot's uploaded mean and spread ([T·C] each, grid order).</summary>
    private static (float[] Means, float[] Spreads) UploadedStatistics(BandUpload[] ordered, int channels)
    {
        var (means, spreads) = (new float[ordered.Length * channels], new float[ordered.Length * channels]);
        for (var slot = 0; slot < ordered.Length; slot++)
        {
            var statistics = Uploaded(ordered[slot].Statistics, ordered[slot].Tile, "statistics", 2, channels);
            statistics[..channels].CopyTo(means.AsSpan(slot * channels));
            statistics[channels..].CopyTo(spreads.AsSpan(slot * channels));
        }
        return (means, spreads);
    }

    /// <summary>Every slot's uploaded token cells as [C, T, rows·columns] floats (what the token spread reads).</summary>
    private static float[] UploadedCells(BandUpload[] ordered, int channels, int rows, int columns)
    {
        var cellCount = rows * columns;
        var cells = new float[channels * ordered.Length * cellCount];
        for (var slot = 0; slot < ordered.Length; slot++)
        {
            var pooled = Uploaded(ordered[slot].Pooled, ordered[slot].Tile, "token cells", channels, rows, columns);
            for (var c = 0; c < channels; c++)
                pooled.Slice(c * cellCount, cellCount).CopyTo(cells.AsSpan((c * ordered.Length + slot) * cellCount));
        }
        return cells;
    }

    /// <summary>Part <paramref name="what"/> of tile <paramref name="tile"/>'s upload, read in place once it is there and
    /// has <paramref name="shape"/>.</summary>
    private static ReadOnlySpan<float> Uploaded(TensorPayload? part, int tile, string what, params ReadOnlySpan<int> shape) =>
        TensorPayloads.Checked(part ?? throw new ArgumentException($"tile {tile} sent no {what}, which attention sync needs"), $"tile {tile}'s {what}", shape);

    /// <summary>[2, C]: grid slot <paramref name="slot"/>'s tone scale and shift.</summary>
    private static TensorPayload ToneOf(float[] scale, float[] shift, int slot, int channels)
    {
        var tone = TensorPayloads.Uninitialized(2, channels);
        var values = TensorPayloads.Floats(tone);
        scale.AsSpan(slot * channels, channels).CopyTo(values);
        shift.AsSpan(slot * channels, channels).CopyTo(values[channels..]);
        return tone;
    }

    /// <summary>Coordinator side, after a full-window sync: the replies that rebuild its updates on the tiles (their values
    /// at each tile's shared and context cells and, for attention, the tone from the proposals' statistics), so that a
    /// full exchange sends only bands down too; null where nothing moves (<see cref="SyncMode.None"/>).
    /// <see cref="Apply"/> of a reply gives its update bit for bit.</summary>
    public IReadOnlyList<BandReply>? RepliesFrom(IReadOnlyList<Tensor> proposals, IReadOnlyList<Tensor?> updates, int step, int steps)
    {
        if (!Exchanges) return null;
        using var scope = NewDisposeScope();
        var layout = Plan.Layout;
        var geometry = SyncGeometry.Of(layout);
        Tensor? scale = null, shift = null;
        if (Sync is AttentionSync attention)
        {
            var statistics = geometry.GridToTile.Select(t => AttentionSync.Statistics(proposals[t].view(proposals[t].shape[0], 1, proposals[t].shape[1], proposals[t].shape[2]))).ToArray();
            var tone = attention.Tone(geometry, step, steps, cat(statistics.Select(s => s.Mean).ToArray()), cat(statistics.Select(s => s.Spread).ToArray()));
            if (tone is var (s, b)) (scale, shift) = (s, b);
        }
        var (stateWidth, context) = (layout.TileWidth + 2 * Plan.Context, Plan.Context);
        var replies = new BandReply[layout.Count];
        for (var t = 0; t < layout.Count; t++)
        {
            var update = updates[t] ?? throw new ArgumentException($"tile {t} has no update to send as bands", nameof(updates));
            var bands = _tiles[t].IsValueCreated ? _tiles[t].Value : _membership.Of(t);
            var shared = Array.ConvertAll(bands.SharedPositions, p => (p / layout.TileWidth + context) * stateWidth + p % layout.TileWidth + context);
            var values = update.reshape(update.shape[0], -1);
            var slot = geometry.TileToGrid[t];
            replies[t] = new BandReply(t, TensorPayloads.ToPayload(values.index_select(1, SyncGeometry.Index(shared))),
                TensorPayloads.ToPayload(values.index_select(1, SyncGeometry.Index(bands.ContextPositions))),
                scale is null ? null : TensorPayloads.ToPayload(stack([scale[slot], shift![slot]])));
        }
        return replies;
    }

    /// <summary>Tile side: the tile's next state (window plus context, [C, h + 2c, w + 2c], on the proposal's device) from
    /// its own proposal [C, h, w] and its reply, equal bit for bit to the full-window sync's update (its own proposal for
    /// <see cref="SyncMode.None"/>). Built on the CPU and moved once.</summary>
    public Tensor Apply(int tile, Tensor proposal, BandReply reply)
    {
        if (!Exchanges) return proposal.clone();
        var (channels, context) = (Plan.Channels, Plan.Context);
        var bands = Bands(tile);
        var sharedCells = TensorPayloads.Checked(reply.Shared, $"tile {tile}'s reply shared cells", channels, bands.SharedCells.Length);
        var contextCells = TensorPayloads.Checked(reply.Context, $"tile {tile}'s reply context cells", channels, bands.ContextCells.Length);
        var tone = reply.Tone is null || Sync is not AttentionSync ? default : TensorPayloads.Checked(reply.Tone, $"tile {tile}'s reply tone", 2, channels);
        var state = empty([channels, Plan.Layout.TileHeight + 2 * context, Plan.Layout.TileWidth + 2 * context], ScalarType.Float32);
        var cpu = Proposal(tile, proposal);
        try
        {
            Side(tile).Apply(SyncKernels.Floats(cpu), sharedCells, contextCells, tone, SyncKernels.Floats(state));
        }
        catch
        {
            state.Dispose();
            throw;
        }
        finally
        {
            if (!ReferenceEquals(cpu, proposal)) cpu.Dispose();
        }
        if (proposal.device_type == TorchSharp.DeviceType.CPU) return state;
        using (state) return state.to(proposal.device);
    }

    /// <summary>Tile <paramref name="tile"/>'s proposal as a dense float32 CPU tensor (itself where it is one), once its shape
    /// is [C, h, w].</summary>
    private Tensor Proposal(int tile, Tensor proposal)
    {
        var shape = proposal.shape;
        var layout = Plan.Layout;
        if (shape.Length != 3 || shape[0] != Plan.Channels || shape[1] != layout.TileHeight || shape[2] != layout.TileWidth)
            throw new ArgumentException($"tile {tile}'s proposal is [{string.Join(", ", shape)}], expected [{Plan.Channels}, {layout.TileHeight}, {layout.TileWidth}]", nameof(proposal));
        return SyncKernels.Cpu(proposal);
    }

    /// <summary>Tile <paramref name="tile"/>'s side of the exchange (built on first use, only in the processes that host it).</summary>
    private TileSide Side(int tile) => _sides.GetOrAdd(tile, t => new Lazy<TileSide>(() => new TileSide(Plan, Sync, Preview, Bands(t)))).Value;

    /// <summary>The coordinator's side of the exchange: the band canvas, each tile's reply cells in it, the weight totals
    /// the sync mode divides by and where each slot's uploads start in a buffer laid out like all uploads.</summary>
    private sealed class CoordinatorTables
    {
        public CoordinatorTables(SyncGeometry geometry, IEnumerable<TileBands> bands, ISyncMode sync)
        {
            var tiles = bands.ToArray();
            Canvas = new BandCanvas(geometry, tiles);
            var canvasWidth = geometry.Layout.CanvasWidth;
            Shared = Array.ConvertAll(tiles, b => CopyRuns.Of(b.SharedCells, c => Canvas.IndexOf(c, canvasWidth)));
            Context = Array.ConvertAll(tiles, b => CopyRuns.Of(b.ContextCells, c => Canvas.IndexOf(c, canvasWidth)));
            var weighted = sync.Mode is SyncMode.Gaussian or SyncMode.Attention;
            Totals = BandKernels.Totals(Canvas, weighted ? geometry.GaussianValues : null, geometry.Layout.TileWidth);
            BandOffsets = new int[tiles.Length + 1];
            for (var slot = 0; slot < tiles.Length; slot++) BandOffsets[slot + 1] = BandOffsets[slot] + tiles[geometry.GridToTile[slot]].SendPositions.Length;
            // A tile's reply is final once the last tile row reaching any of its cells is.
            var repliesAt = Enumerable.Range(0, geometry.Layout.Rows).Select(_ => new List<int>()).ToArray();
            foreach (var tile in tiles)
            {
                var ready = tile.SharedCells.Concat(tile.ContextCells).Select(c => Canvas.LastRow[c / canvasWidth]).DefaultIfEmpty(0).Max();
                repliesAt[ready].Add(tile.Tile);
            }
            RepliesAt = Array.ConvertAll(repliesAt, r => r.ToArray());
        }

        /// <summary>Per tile row: the tiles whose reply cells are all final once it is added (each tile once).</summary>
        public int[][] RepliesAt { get; }

        public BandCanvas Canvas { get; }

        /// <summary>Per tile (layout order): where its shared cells, and its context cells, lie in the band canvas.</summary>
        public CopyRuns[] Shared { get; }
        public CopyRuns[] Context { get; }

        /// <summary>[cells] Σ of the weights of the windows covering each band cell (count, or Gaussian).</summary>
        public float[] Totals { get; }

        /// <summary>[T + 1] where grid slot s's sent values start, all slots' uploads laid end to end.</summary>
        public int[] BandOffsets { get; }

        /// <summary><paramref name="result"/> [C, n] = the synced values [C × cells] at <paramref name="cells"/>.</summary>
        public void Gather(ReadOnlySpan<float> values, CopyRuns cells, int channels, TensorPayload result)
        {
            var target = TensorPayloads.Floats(result);
            for (var c = 0; c < channels; c++)
                cells.Copy(values.Slice(c * Canvas.Count, Canvas.Count), target.Slice(c * cells.Count, cells.Count));
        }
    }

    private static ExchangeBytes Count(JobPlan plan, ISyncMode sync, IEnumerable<TileBands> bands, int windowCells, int stateCells, long[] tokenCells,
        long thumbnailCells)
    {
        var tiles = bands.Select(b => (Send: b.SendPositions.Length, Shared: b.SharedCells.Length, Context: b.ContextCells.Length)).ToArray();
        long channelBytes = plan.Channels * sizeof(float);
        var sharedMemberships = tiles.Sum(t => (long)t.Shared);
        var contextCells = tiles.Sum(t => (long)t.Context);
        var bound = channelBytes * (2 * sharedMemberships + contextCells);
        var full = channelBytes * tiles.Length * ((long)windowCells + stateCells);
        var thumbnails = channelBytes * tiles.Length * thumbnailCells;             // the preview, not the sync: outside the bound
        if (sync.Mode == SyncMode.None) return new ExchangeBytes(thumbnails, 0, 0, 0, thumbnails);
        var up = channelBytes * tiles.Sum(t => (long)t.Send) + thumbnails;
        var down = channelBytes * (sharedMemberships + contextCells);
        if (sync is AttentionSync attention)
        {
            var perTile = 2 * channelBytes;                                               // mean and spread up, scale and shift down
            up += tiles.Length * (perTile + (attention.UsesTokens ? channelBytes * tokenCells[0] * tokenCells[1] : 0));
            down += tiles.Length * perTile;
        }
        return new ExchangeBytes(up, down, bound, full, thumbnails);
    }
}
