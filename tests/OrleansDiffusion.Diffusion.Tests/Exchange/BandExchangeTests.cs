using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Exchange;

public class BandExchangeTests
{
    /// <summary>mode, canvas, tile, overlap, context, tileable.</summary>
    public static TheoryData<SyncMode, int, int, int, int, bool> Cases()
    {
        var data = new TheoryData<SyncMode, int, int, int, int, bool>();
        foreach (var mode in new[] { SyncMode.None, SyncMode.Average, SyncMode.Gaussian, SyncMode.Attention })
        {
            data.Add(mode, 160, 64, 24, 0, false);   // uneven: the last window is shifted inward; a non-local model
            data.Add(mode, 150, 48, 16, 3, false);   // uneven, a local denoiser's context (mirrored at the edge)
            data.Add(mode, 144, 64, 16, 2, true);    // tileable: windows and context wrap
            data.Add(mode, 120, 48, 24, 2, false);   // half-window stride: inner windows have no cell of their own
        }
        data.Add(SyncMode.Halo, 150, 48, 0, 3, false); // halo tiles partition the canvas; the shifted last ones overlap
        data.Add(SyncMode.Halo, 144, 48, 0, 3, true);
        return data;
    }

    private static JobPlan Plan(SyncMode mode, int size, int tile, int overlap, int context, bool wrap) =>
        new(new JobSpec { Width = size, Height = size, Tile = tile, Overlap = overlap, Steps = 8, Sync = mode },
            TileLayout.Plan(size, size, tile, overlap, wrap), context, 4);

    /// <summary>Proposals that disagree in the overlaps, in content and in tone.</summary>
    private static Tensor[] Proposals(JobPlan plan)
    {
        var generator = new Generator(23);
        return plan.Layout.Windows.Select(w =>
            (randn([4, w.Height, w.Width], generator: generator) + randn([4, 1, 1], generator: generator)).contiguous()).ToArray();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Band_only_sync_equals_full_window_sync_bit_for_bit(SyncMode mode, int size, int tile, int overlap, int context, bool wrap)
    {
        var plan = Plan(mode, size, tile, overlap, context, wrap);
        var sync = JobComponents.CreateSync(mode);
        var exchange = BandExchange.Create(plan, sync);
        var proposals = Proposals(plan);
        foreach (var step in new[] { 0, 3, plan.Steps - 2 }) // tone strong, weaker, and decayed to zero
        {
            using var full = sync.Synchronize(new SyncInput(plan, proposals, step, plan.Steps));
            var uploads = plan.Layout.Windows.Select(w => exchange.Upload(w.Index, proposals[w.Index])).Reverse().ToArray();
            var replies = exchange.Synchronize(uploads, step, plan.Steps);
            foreach (var w in plan.Layout.Windows)
            {
                using var next = exchange.Apply(w.Index, proposals[w.Index], replies[w.Index]);
                var expected = full.Updates[w.Index] ?? proposals[w.Index];
                Assert.True(TensorAssertions.SameBits(next, expected),
                    $"{mode} step {step} tile {w.Index}: max diff {TensorAssertions.MaxDifference(next, expected)}");
            }
        }
    }

    /// <summary>Attention layouts with enough tile rows for chunks of them on threads: canvas, tile, overlap, context,
    /// tileable, threads.</summary>
    public static TheoryData<int, int, int, int, bool, int> ThreadedCases() => new()
    {
        { 160, 64, 24, 0, false, 2 },  // 4 tile rows; the last one shifted inward, so three tile rows reach some canvas rows
        { 150, 48, 16, 3, false, 2 },  // 5 tile rows, context
        { 256, 48, 16, 3, false, 3 },  // 8 tile rows in 3 chunks
        { 256, 48, 16, 0, false, 4 },  // 4 chunks of 2 rows
        { 192, 48, 16, 2, true, 3 },   // tileable: the last chunk's window rows wrap onto the first chunk's canvas rows
    };

    [Theory]
    [MemberData(nameof(ThreadedCases))]
    public void Attention_band_sync_on_several_threads_equals_full_window_sync_bit_for_bit(int size, int tile, int overlap, int context, bool wrap, int threads)
    {
        var plan = Plan(SyncMode.Attention, size, tile, overlap, context, wrap);
        Assert.True(plan.Layout.Rows >= 2 * threads, $"{plan.Layout.Rows} tile rows give fewer than {threads} chunks");
        var sync = JobComponents.CreateSync(SyncMode.Attention);
        var exchange = BandExchange.Create(plan, sync);
        var proposals = Proposals(plan);
        foreach (var step in new[] { 0, plan.Steps - 2 })
        {
            using var full = sync.Synchronize(new SyncInput(plan, proposals, step, plan.Steps));
            var uploads = plan.Layout.Windows.Select(w => exchange.Upload(w.Index, proposals[w.Index])).ToArray();
            var replies = exchange.Synchronize(uploads, step, plan.Steps, threads);
            foreach (var w in plan.Layout.Windows)
            {
                using var next = exchange.Apply(w.Index, proposals[w.Index], replies[w.Index]);
                Assert.True(TensorAssertions.SameBits(next, full.Updates[w.Index]!),
                    $"{threads} threads, step {step}, tile {w.Index}: max diff {TensorAssertions.MaxDifference(next, full.Updates[w.Index]!)}");
            }
        }
    }

    /// <summary>The cases whose last step is gathered from owned parts (under `none` it moves whole windows).</summary>
    public static TheoryData<SyncMode, int, int, int, int, bool> SyncedCases()
    {
        var data = new TheoryData<SyncMode, int, int, int, int, bool>();
        foreach (var row in Cases())
            if ((SyncMode)row[0] != SyncMode.None) data.Add((SyncMode)row[0], (int)row[1], (int)row[2], (int)row[3], (int)row[4], (bool)row[5]);
        return data;
    }

    [Theory]
    [MemberData(nameof(SyncedCases))]
    public void The_tiles_owned_parts_after_the_last_step_are_the_full_window_sync_canvas_bit_for_bit(SyncMode mode, int size, int tile, int overlap, int context, bool wrap)
    {
        var plan = Plan(mode, size, tile, overlap, context, wrap);
        var sync = JobComponents.CreateSync(mode);
        var exchange = BandExchange.Create(plan, sync);
        var proposals = Proposals(plan);
        var last = plan.Steps - 1;
        using var full = sync.Synchronize(new SyncInput(plan, proposals, last, plan.Steps));
        var uploads = plan.Layout.Windows.Select(w => exchange.Upload(w.Index, proposals[w.Index])).ToArray();
        var replies = exchange.Synchronize(uploads, last, plan.Steps);
        using var canvas = empty(4, size, size).fill_(float.NaN); // a cell no tile delivers stays NaN
        var deliveries = new int[size * size];
        foreach (var w in plan.Layout.Windows)
        {
            using var state = exchange.Apply(w.Index, proposals[w.Index], replies[w.Index]);
            using var part = exchange.OwnedPart(w.Index, state);
            exchange.Place(canvas, w.Index, part);
            var owned = exchange.Owned(w.Index);
            foreach (var row in owned.CanvasRows)
                foreach (var column in owned.CanvasColumns)
                    deliveries[row * size + column]++;
        }
        Assert.All(deliveries, count => Assert.Equal(1, count)); // the parts partition the canvas
        Assert.True(TensorAssertions.SameBits(canvas, full.Canvas!), $"{mode}: max diff {TensorAssertions.MaxDifference(canvas, full.Canvas!)}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Replies_from_a_full_window_sync_rebuild_its_updates_bit_for_bit(SyncMode mode, int size, int tile, int overlap, int context, bool wrap)
    {
        var plan = Plan(mode, size, tile, overlap, context, wrap);
        var sync = JobComponents.CreateSync(mode);
        var exchange = BandExchange.Create(plan, sync);
        var proposals = Proposals(plan);
        foreach (var step in new[] { 0, plan.Steps - 2 })
        {
            using var full = sync.Synchronize(new SyncInput(plan, proposals, step, plan.Steps));
            var replies = exchange.RepliesFrom(proposals, full.Updates, step, plan.Steps);
            if (mode == SyncMode.None)
            {
                Assert.Null(replies);
                continue;
            }
            Assert.NotNull(replies);
            foreach (var w in plan.Layout.Windows)
            {
                var reply = replies[w.Index];
                Assert.Equal(w.Index, reply.Tile);
                using var next = exchange.Apply(w.Index, proposals[w.Index], reply);
                Assert.True(TensorAssertions.SameBits(next, full.Updates[w.Index]!),
                    $"{mode} step {step} tile {w.Index}: max diff {TensorAssertions.MaxDifference(next, full.Updates[w.Index]!)}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Tiles_send_and_receive_only_their_bands(SyncMode mode, int size, int tile, int overlap, int context, bool wrap)
    {
        var plan = Plan(mode, size, tile, overlap, context, wrap);
        var exchange = BandExchange.Create(plan, JobComponents.CreateSync(mode));
        var bytes = exchange.Bytes;
        if (mode == SyncMode.None)
        {
            // Nothing to sync: only the preview thumbnails go up.
            var side = (tile + exchange.Preview.Factor - 1) / exchange.Preview.Factor;
            Assert.Equal((long)plan.Layout.Count * side * side * plan.Channels * sizeof(float), bytes.PerStep);
            Assert.Equal(0, bytes.LowerBound);
            return;
        }
        Assert.True(bytes.PerStep < bytes.FullWindow, $"{bytes.PerStep} band bytes vs {bytes.FullWindow} full-window");
        var windowCells = plan.Layout.TileWidth * plan.Layout.TileHeight;
        Assert.True(Enumerable.Range(0, plan.Layout.Count).Sum(t => exchange.Bands(t).SendPositions.Length) < plan.Layout.Count * windowCells, "tiles send whole windows");
        foreach (var bands in Enumerable.Range(0, plan.Layout.Count).Select(exchange.Bands))
        {
            Assert.All(bands.SendPositions, p => Assert.InRange(p, 0, windowCells - 1));
            Assert.Equal(bands.SharedCells.Length, bands.SharedPositions.Length);
            Assert.Equal(bands.ContextCells.Length, bands.ContextCells.Distinct().Count());
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bands_are_what_a_cell_by_cell_count_of_windows_and_crops_gives(SyncMode mode, int size, int tile, int overlap, int context, bool wrap)
    {
        var plan = Plan(mode, size, tile, overlap, context, wrap);
        var exchange = BandExchange.Create(plan, JobComponents.CreateSync(mode));
        // The reference counts, cell by cell, the windows covering each cell and the tiles reading it outside their own window.
        var geometry = SyncGeometry.Of(plan.Layout);
        var covering = new int[geometry.CanvasCells];
        var readByOthers = new bool[geometry.CanvasCells];
        var windows = plan.Layout.Windows.Select(w => geometry.CropCells(w.Index, 0)).ToArray();
        foreach (var window in windows)
            foreach (var cell in window) covering[cell]++;
        foreach (var w in plan.Layout.Windows)
        {
            var own = windows[w.Index].ToHashSet();
            foreach (var cell in geometry.CropCells(w.Index, context).Where(c => !own.Contains(c))) readByOthers[cell] = true;
        }
        foreach (var w in plan.Layout.Windows)
        {
            var window = windows[w.Index];
            var own = window.ToHashSet();
            var bands = exchange.Bands(w.Index);
            Assert.Equal(Enumerable.Range(0, window.Length).Where(p => covering[window[p]] > 1 || readByOthers[window[p]]), bands.SendPositions);
            Assert.Equal(Enumerable.Range(0, window.Length).Where(p => covering[window[p]] > 1), bands.SharedPositions);
            Assert.Equal(bands.SharedPositions.Select(p => window[p]), bands.SharedCells);
            var crop = geometry.CropCells(w.Index, context);
            Assert.Equal(crop.Where(c => !own.Contains(c)).Distinct(), bands.ContextCells);
            Assert.Equal(bands.ContextCells, bands.ContextPositions.Select(p => crop[p]));
            Assert.All(bands.ContextPositions, p => Assert.Equal(p, Array.IndexOf(crop, crop[p])));
        }
    }

    /// <summary>The coordinator reads uploads as the bytes that arrived, and a tile reads its reply the same way: a part
    /// whose shape or byte count is not what the plan says is refused with the tile and the part named.</summary>
    [Fact]
    public void Malformed_uploads_and_replies_are_refused_naming_the_tile_and_part()
    {
        var plan = Plan(SyncMode.Attention, 150, 48, 16, 3, false);
        var exchange = BandExchange.Create(plan, JobComponents.CreateSync(SyncMode.Attention));
        var proposals = Proposals(plan);
        var uploads = plan.Layout.Windows.Select(w => exchange.Upload(w.Index, proposals[w.Index])).ToArray();
        var good = uploads[2];
        var bands = good.Bands;
        var cases = new (BandUpload Upload, string Part)[]
        {
            (good with { Bands = bands with { Data = bands.Data[..^4] } }, "tile 2's bands"),                   // one sample short
            (good with { Bands = bands with { Shape = [bands.Shape[0] - 1, bands.Shape[1]] } }, "tile 2's bands"), // wrong channels
            (good with { Statistics = good.Statistics! with { Shape = [4, 2] } }, "tile 2's statistics"),
            (good with { Pooled = null }, "tile 2 sent no token cells"),
        };
        foreach (var (upload, part) in cases)
        {
            var sent = uploads.Select(u => u.Tile == 2 ? upload : u).ToArray();
            var error = Assert.Throws<ArgumentException>(() => exchange.Synchronize(sent, 1, plan.Steps));
            Assert.Contains(part, error.Message);
        }

        var reply = exchange.Synchronize(uploads, 1, plan.Steps)[2];
        using (var next = exchange.Apply(2, proposals[2], reply)) Assert.Equal(4, next.shape[0]);
        var shared = reply.Shared;
        var wrongReplies = new (BandReply Reply, string Part)[]
        {
            (reply with { Shared = shared with { Shape = [shared.Shape[0], shared.Shape[1] - 1], Data = shared.Data[..^(4 * shared.Shape[0])] } }, "tile 2's reply shared cells"),
            (reply with { Context = reply.Shared }, "tile 2's reply context cells"),
            (reply with { Tone = reply.Tone! with { Data = new byte[4] } }, "tile 2's reply tone"),
        };
        foreach (var (wrong, part) in wrongReplies)
        {
            var error = Assert.Throws<ArgumentException>(() => exchange.Apply(2, proposals[2], wrong));
            Assert.Contains(part, error.Message);
        }
    }

    [Fact]
    public void Two_windows_side_by_side_exchange_exactly_their_overlap()
    {
        // 112×64 canvas, windows at x = 0 and x = 48: the 16×64 overlap belongs to both windows.
        var plan = Plan(SyncMode.Average, 64, 64, 16, 0, false) with { Layout = TileLayout.Plan(112, 64, 64, 16, false) };
        var exchange = BandExchange.Create(plan, WeightedAverageSync.Average);
        var bandBytes = 2L * 16 * 64 * 4 * sizeof(float);          // 2 memberships × 1024 cells × 4 channels × 4 bytes
        var thumbnails = 2L * 16 * 16 * 4 * sizeof(float);         // each window's 16×16 preview thumbnail (factor 4)
        Assert.Equal(4, exchange.Preview.Factor);
        Assert.Equal(bandBytes + thumbnails, exchange.Bytes.Up);
        Assert.Equal(bandBytes, exchange.Bytes.Down);
        Assert.Equal(2 * bandBytes, exchange.Bytes.LowerBound);
        Assert.Equal((2.0 * bandBytes + thumbnails) / (2 * bandBytes), exchange.Bytes.Ratio);
        Assert.Equal(2L * 2 * 64 * 64 * 4 * sizeof(float), exchange.Bytes.FullWindow);
    }

    [Fact]
    public void Band_bytes_stay_within_the_goal_on_a_large_layout()
    {
        // 441 windows of 64×64 with overlap 16 (an SD latent at 8192² is of this kind).
        foreach (var (mode, context) in new[] { (SyncMode.Average, 0), (SyncMode.Gaussian, 0), (SyncMode.Attention, 0), (SyncMode.Average, 3) })
        {
            var plan = Plan(mode, 1024, 64, 16, context, false);
            var bytes = BandExchange.Create(plan, JobComponents.CreateSync(mode)).Bytes;
            Assert.InRange(bytes.Ratio, 1.0, 1.2);
            Assert.True(bytes.FullWindowRatio > 1.3, $"full-window exchange {bytes.FullWindowRatio:F2}× the bound");
        }
    }
}
