using System.Diagnostics;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Bench;

/// <summary>One sync mode's coordinator cost: milliseconds per step and per tile-step.</summary>
/// <param name="CpuMilliseconds">process CPU time per step (all threads): steadier than wall time on a shared machine.</param>
public sealed record SyncTiming(SyncMode Mode, int Tiles, double StepMilliseconds, double CpuMilliseconds)
{
    public double TileStepMilliseconds => StepMilliseconds / Tiles;
    public double CpuTileStepMilliseconds => CpuMilliseconds / Tiles;
}

/// <summary>A tile's side of one band-exchange step, in milliseconds per tile-step: what each worker spends per tile it
/// hosts, on top of the denoise.</summary>
public sealed record TileSideTiming(SyncMode Mode, int Tiles, double UploadMilliseconds, double ApplyMilliseconds);

/// <summary>
/// Times <see cref="ISyncMode.Synchronize"/> as the coordinator runs it (proposals in, canvas and per-tile updates
/// out) on a synthetic layout, e.g. 441 tiles of 64×64 with overlap 16 on a 1024² canvas.
/// </summary>
public static class SyncBenchmark
{
    /// <summary>Band-exchange bytes per step for the same layout (see <see cref="BandExchange"/>).</summary>
    public static ExchangeBytes Bytes(SyncMode mode, int canvas, int tile, int overlap, int channels, int context)
    {
        var (plan, sync) = Setup(mode, canvas, tile, overlap, channels, context);
        return BandExchange.Create(plan, sync).Bytes;
    }

    private static (JobPlan Plan, ISyncMode Sync) Setup(SyncMode mode, int canvas, int tile, int overlap, int channels, int context)
    {
        var spec = new JobSpec { Width = canvas, Height = canvas, Tile = tile, Overlap = mode == SyncMode.Halo ? 0 : overlap, Steps = 10, Sync = mode };
        var layout = TileLayout.Plan(canvas, canvas, tile, spec.Overlap, wrap: false);
        return (new JobPlan(spec, layout, mode == SyncMode.Halo ? Math.Max(context, 1) : context, channels), JobComponents.CreateSync(mode));
    }

    public static SyncTiming Measure(SyncMode mode, int canvas, int tile, int overlap, int channels, int context, int repeats)
    {
        var (plan, sync) = Setup(mode, canvas, tile, overlap, channels, context);
        var layout = plan.Layout;
        var generator = new Generator(7);
        var proposals = layout.Windows.Select(w => randn([channels, w.Height, w.Width], generator: generator)).ToArray();
        try
        {
            WarmUp(() => Run(sync, plan, proposals));
            using var process = Process.GetCurrentProcess();
            var cpu = process.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < repeats; i++) Run(sync, plan, proposals);
            var wall = watch.Elapsed.TotalMilliseconds / repeats;
            process.Refresh();
            return new SyncTiming(mode, layout.Count, wall, (process.TotalProcessorTime - cpu).TotalMilliseconds / repeats);
        }
        finally
        {
            foreach (var proposal in proposals) proposal.Dispose();
        }
    }

    /// <summary>
    /// Runs <paramref name="step"/> until the timed runs see steady-state code: past the runtime's tier-up count (30
    /// calls, then a background recompile) or for two seconds, whichever comes first (at least twice: caches, allocator).
    /// One warm-up left part of 5 timed steps on first-tier code, up to twice as slow.
    /// </summary>
    private static void WarmUp(Action step)
    {
        const int TierUpCalls = 35;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < TierUpCalls && (i < 2 || watch.Elapsed < TimeSpan.FromSeconds(2)); i++) step();
    }

    /// <summary>Times the coordinator's side of the band exchange (<see cref="BandExchange.Synchronize"/>: every tile's
    /// upload in, every tile's reply out) on the same layout; the uploads are made once, as the tiles would.</summary>
    public static SyncTiming MeasureBands(SyncMode mode, int canvas, int tile, int overlap, int channels, int context, int repeats)
    {
        var (plan, sync) = Setup(mode, canvas, tile, overlap, channels, context);
        var exchange = BandExchange.Create(plan, sync);
        var generator = new Generator(7);
        var uploads = plan.Layout.Windows.Select((w, t) =>
        {
            using var proposal = randn([channels, w.Height, w.Width], generator: generator);
            return exchange.Upload(t, proposal);
        }).ToArray();
        WarmUp(() => RunBands(exchange, uploads, plan.Steps)); // the coordinator's index tables too
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < repeats; i++) RunBands(exchange, uploads, plan.Steps);
        var wall = watch.Elapsed.TotalMilliseconds / repeats;
        process.Refresh();
        return new SyncTiming(mode, plan.Layout.Count, wall, (process.TotalProcessorTime - cpu).TotalMilliseconds / repeats);
    }

    /// <summary>Times a tile's side of the band exchange, as a worker runs it for each of its tiles every step: the upload
    /// from its proposal (<see cref="BandExchange.Upload"/>) and its next state from its proposal and reply
    /// (<see cref="BandExchange.Apply"/>), each in milliseconds per tile-step, on the same layout.</summary>
    public static TileSideTiming MeasureTileSide(SyncMode mode, int canvas, int tile, int overlap, int channels, int context, int repeats)
    {
        var (plan, sync) = Setup(mode, canvas, tile, overlap, channels, context);
        var exchange = BandExchange.Create(plan, sync);
        var generator = new Generator(7);
        var proposals = plan.Layout.Windows.Select(w => randn([channels, w.Height, w.Width], generator: generator)).ToArray();
        try
        {
            var replies = exchange.Synchronize(proposals.Select((p, t) => exchange.Upload(t, p)).ToArray(), 1, plan.Steps);
            void Uploads()
            {
                for (var t = 0; t < proposals.Length; t++) exchange.Upload(t, proposals[t]);
            }
            void Applies()
            {
                for (var t = 0; t < proposals.Length; t++) exchange.Apply(t, proposals[t], replies[t]).Dispose();
            }
            WarmUp(() => { Uploads(); Applies(); });
            var (upload, apply) = (TimeSpan.Zero, TimeSpan.Zero);
            for (var i = 0; i < repeats; i++) // alternating, so both see the same machine
            {
                var watch = Stopwatch.StartNew();
                Uploads();
                upload += watch.Elapsed;
                watch.Restart();
                Applies();
                apply += watch.Elapsed;
            }
            var tileSteps = (double)repeats * proposals.Length;
            return new TileSideTiming(mode, proposals.Length, upload.TotalMilliseconds / tileSteps, apply.TotalMilliseconds / tileSteps);
        }
        finally
        {
            foreach (var proposal in proposals) proposal.Dispose();
        }
    }

    private static void RunBands(BandExchange exchange, BandUpload[] uploads, int steps)
    {
        exchange.Synchronize(uploads, 1, steps);
    }

    private static void Run(ISyncMode sync, JobPlan plan, Tensor[] proposals)
    {
        // A middle step: tone sync active, every tile gets its update.
        using var result = sync.Synchronize(new SyncInput(plan, proposals, 1, plan.Steps));
        foreach (var update in result.Updates) update?.Dispose();
    }
}
