using System.Diagnostics;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Sync;
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

    /// <param name="observeCanvas">called after each step that produced a synced canvas (not the unsynced steps of
    /// <c>none</c>), with the step number and the canvas; the tensor is valid only during the call.</param>
    public async Task<EngineResult> RunAsync(JobPlan plan, ITileRuntime runtime, IProgress<StepProgress>? progress = null,
        int silos = 1, Action<int, Tensor>? observeCanvas = null, CancellationToken cancellationToken = default)
    {
        var total = Stopwatch.StartNew();
        double denoiseSeconds = 0, syncSeconds = 0;
        long bytes = 0;
        var forwardCalls = 0;
        var steps = plan.Steps;
        await runtime.StartAsync(plan, cancellationToken);
        for (var step = 0; ; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var denoised = await runtime.DenoiseAsync(step, cancellationToken);
            denoiseSeconds += denoised.DenoiseSeconds;
            forwardCalls += denoised.ForwardCalls;
            bytes += denoised.Bytes;

            var watch = Stopwatch.StartNew();
            using var synced = Sync.Synchronize(new SyncInput(plan, denoised.Proposals, step, steps));
            syncSeconds += watch.Elapsed.TotalSeconds;
            if (synced.Canvas is { } current && step < steps - 1) observeCanvas?.Invoke(step + 1, current);
            if (step == steps - 1)
            {
                var canvas = synced.TakeCanvas();
                if (plan.LatentScale == 1) canvas.clamp_(-1, 1);
                var statistics = new JobStatistics(plan.Layout.Count, silos, total.Elapsed.TotalSeconds, denoiseSeconds, syncSeconds,
                    bytes / steps, (double)forwardCalls / steps);
                progress?.Report(new StepProgress(step + 1, steps, plan.Layout.Count, total.Elapsed.TotalSeconds, denoiseSeconds, syncSeconds, bytes));
                return new EngineResult(canvas, statistics);
            }
            bytes += await runtime.ScatterAsync(step, synced.Updates, cancellationToken);
            progress?.Report(new StepProgress(step + 1, steps, plan.Layout.Count, total.Elapsed.TotalSeconds, denoiseSeconds, syncSeconds, bytes));
        }
    }
}
