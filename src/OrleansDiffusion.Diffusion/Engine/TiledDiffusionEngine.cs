using System.Diagnostics;
using OrleansDiffusion.Abstractions;
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
    public async Task<EngineResult> RunAsync(JobPlan plan, ITileRuntime runtime, IProgress<StepProgress>? progress = null,
        EngineStart? start = null, IStepObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var total = Stopwatch.StartNew();
        double denoiseSeconds = 0, syncSeconds = 0;
        long bytes = 0;
        var forwardCalls = 0;
        var steps = plan.Steps;
        var first = start?.Step ?? 0;
        if (first < 0 || first >= steps) throw new ArgumentOutOfRangeException(nameof(start), $"a run resumes after 0..{steps - 1} steps, not {first}");
        await runtime.StartAsync(plan, start, cancellationToken);
        for (var step = first; ; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var denoised = await runtime.DenoiseAsync(step, cancellationToken);
            denoiseSeconds += denoised.DenoiseSeconds;
            forwardCalls += denoised.ForwardCalls;
            bytes += denoised.Bytes;

            var watch = Stopwatch.StartNew();
            // Sync is pure math: off the caller's scheduler (a grain's), resumed on it.
            var input = new SyncInput(plan, denoised.Proposals, step, steps);
            using var synced = await Task.Run(() => Sync.Synchronize(input), cancellationToken);
            syncSeconds += watch.Elapsed.TotalSeconds;
            var ran = step + 1 - first;
            if (step == steps - 1)
            {
                var canvas = synced.TakeCanvas();
                if (plan.LatentScale == 1) canvas.clamp_(-1, 1);
                var statistics = new JobStatistics(plan.Layout.Count, 1, total.Elapsed.TotalSeconds, denoiseSeconds, syncSeconds,
                    bytes / ran, (double)forwardCalls / ran);
                progress?.Report(new StepProgress(step + 1, steps, plan.Layout.Count, total.Elapsed.TotalSeconds, denoiseSeconds, syncSeconds, bytes));
                return new EngineResult(canvas, statistics);
            }
            if (observer is not null) await observer.OnSyncedAsync(new SyncedStep(step + 1, synced.Canvas, denoised.Proposals), cancellationToken);
            bytes += await runtime.ScatterAsync(step, synced.Updates, cancellationToken);
            progress?.Report(new StepProgress(step + 1, steps, plan.Layout.Count, total.Elapsed.TotalSeconds, denoiseSeconds, syncSeconds, bytes));
        }
    }
}
