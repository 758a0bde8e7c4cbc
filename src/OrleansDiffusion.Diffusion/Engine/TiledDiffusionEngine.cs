using System.Diagnostics;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>The image (canvas [C, H, W], model space, clamped to [-1, 1]; a latent canvas is left unclamped) and what it cost.</summary>
public sealed record EngineResult(Tensor Canvas, JobStatistics Statistics) : IDisposable
{
    public void Dispose() => Canvas.Dispose();
}

/// <summary>
/// The one step loop: plan → every step, all tiles denoise (through the runtime) → the coordinator syncs
/// → synced windows are scattered back → after the last step the synced canvas is the image.
/// Orleans-agnostic: the same class runs in-process and inside the coordinator grain.
/// </summary>
public sealed class TiledDiffusionEngine(ISyncMode sync)
{
    public ISyncMode Sync { get; } = sync;

    /// <param name="start">resume after this many steps from these tile states (a checkpoint); null starts from the noise field.</param>
    /// <param name="observer">sees each step's synced result (not after the last step: that is the returned image).</param>
    /// <param name="bands">steps between full exchanges move only bands (a cluster); null: every step moves whole windows.</param>
    public async Task<EngineResult> RunAsync(JobPlan plan, ITileRuntime runtime, IProgress<StepProgress>? progress = null,
        EngineStart? start = null, IStepObserver? observer = null, BandSchedule? bands = null, CancellationToken cancellationToken = default)
    {
        var total = Stopwatch.StartNew();
        double denoiseSeconds = 0, syncSeconds = 0;
        long bytes = 0, bandBytes = 0;
        int forwardCalls = 0, ran = 0, bandSteps = 0;
        var steps = plan.Steps;
        var first = start?.Step ?? 0;
        if (first < 0 || first >= steps) throw new ArgumentOutOfRangeException(nameof(start), $"a run resumes after 0..{steps - 1} steps, not {first}");
        if (bands is not null && (!ReferenceEquals(bands.Exchange.Plan, plan) || bands.Exchange.Sync.Mode != Sync.Mode))
            throw new ArgumentException("the band exchange was built for another plan or sync mode", nameof(bands));
        await runtime.StartAsync(plan, start, cancellationToken);
        for (var step = first; ; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var bandOnly = bands is not null && !bands.IsFull(step, steps);
            long stepBytes;
            StepTimes times;
            try
            {
                (stepBytes, times) = bandOnly
                    ? await BandStepAsync(bands!.Exchange, runtime, step, steps, observer, cancellationToken)
                    : await FullStepAsync(plan, runtime, step, steps, observer, cancellationToken);
            }
            catch (TileRollbackException rollback)
            {
                step = rollback.Step - 1; // the loop's increment continues at the rollback step
                continue;
            }
            denoiseSeconds += times.DenoiseSeconds;
            syncSeconds += times.SyncSeconds;
            forwardCalls += times.ForwardCalls;
            bytes += stepBytes;
            ran++;
            if (bandOnly && times.Canvas is null) (bandBytes, bandSteps) = (bandBytes + stepBytes, bandSteps + 1); // the last step also gathers the image
            progress?.Report(new StepProgress(step + 1, steps, plan.Layout.Count, total.Elapsed.TotalSeconds, denoiseSeconds, syncSeconds, bytes));
            if (times.Canvas is { } canvas)
            {
                var statistics = new JobStatistics(plan.Layout.Count, 1, total.Elapsed.TotalSeconds, denoiseSeconds, syncSeconds,
                    bytes / ran, (double)forwardCalls / ran, bands?.Exchange.Bytes.LowerBound ?? 0,
                    BandBytesPerStep: bandSteps == 0 ? 0 : bandBytes / bandSteps);
                return new EngineResult(canvas, statistics);
            }
        }
    }

    /// <summary>What a step cost; <see cref="Canvas"/> is the image after the last step.</summary>
    private readonly record struct StepTimes(double DenoiseSeconds, double SyncSeconds, int ForwardCalls, Tensor? Canvas = null);

    /// <summary>Whole windows up, the full-window sync, whole windows (plus context) down; after the last step the canvas.</summary>
    private async Task<(long Bytes, StepTimes Times)> FullStepAsync(JobPlan plan, ITileRuntime runtime, int step, int steps,
        IStepObserver? observer, CancellationToken cancellationToken)
    {
        var denoised = await runtime.DenoiseAsync(step, bands: false, cancellationToken);
        var watch = Stopwatch.StartNew();
        // Sync is pure math: off the caller's scheduler (a grain's), resumed on it.
        var input = new SyncInput(plan, denoised.Proposals, step, steps);
        using var synced = await Task.Run(() => Sync.Synchronize(input), cancellationToken);
        var syncSeconds = watch.Elapsed.TotalSeconds;
        if (step == steps - 1)
        {
            var canvas = synced.TakeCanvas();
            if (plan.LatentScale == 1) canvas.ClampInPlace(-1, 1);
            return (denoised.Bytes, new StepTimes(denoised.DenoiseSeconds, syncSeconds, denoised.ForwardCalls, canvas));
        }
        if (observer is not null) await observer.OnSyncedAsync(new SyncedStep(step + 1, synced.Canvas, denoised.Proposals), cancellationToken);
        var scattered = await runtime.ScatterAsync(step, synced.Updates, cancellationToken);
        return (denoised.Bytes + scattered, new StepTimes(denoised.DenoiseSeconds, syncSeconds, denoised.ForwardCalls));
    }

    /// <summary>Bands up, the band sync, each tile's synced bands down; the observer sees the tiles' thumbnails. After the
    /// last step the tiles send their parts of the image instead.</summary>
    private static async Task<(long Bytes, StepTimes Times)> BandStepAsync(BandExchange exchange, ITileRuntime runtime, int step, int steps,
        IStepObserver? observer, CancellationToken cancellationToken)
    {
        var denoised = await runtime.DenoiseAsync(step, bands: true, cancellationToken);
        var uploads = denoised.Uploads ?? throw new InvalidOperationException($"the runtime sent no bands for step {step}");
        var watch = Stopwatch.StartNew();
        var replies = await Task.Run(() => exchange.Synchronize(uploads, step, steps), cancellationToken);
        var syncSeconds = watch.Elapsed.TotalSeconds;
        if (step == steps - 1)
        {
            var (canvas, gathered) = await runtime.GatherAsync(step, replies, cancellationToken);
            if (exchange.Plan.LatentScale == 1) canvas.ClampInPlace(-1, 1);
            return (denoised.Bytes + gathered, new StepTimes(denoised.DenoiseSeconds, syncSeconds, denoised.ForwardCalls, canvas));
        }
        if (observer is not null)
            await observer.OnSyncedAsync(new SyncedStep(step + 1, null, [], uploads.OrderBy(u => u.Tile).Select(u => u.Thumbnail).ToArray()), cancellationToken);
        var scattered = await runtime.ScatterBandsAsync(step, replies, cancellationToken);
        return (denoised.Bytes + scattered, new StepTimes(denoised.DenoiseSeconds, syncSeconds, denoised.ForwardCalls));
    }
}
