using System.Diagnostics;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Noise;
using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>The result of one batched forward pass: each tile's proposal (x at step + 1) and the time spent in the denoiser.</summary>
public sealed record BatchStep(Tensor[] Proposals, double DenoiseSeconds);

/// <summary>
/// One step for a batch of tiles on one device: a single denoiser forward pass over the stacked windows,
/// then the scheduler update per tile. Synchronous on purpose (TorchSharp dispose scopes are thread-static).
/// </summary>
public static class TileStepper
{
    public static BatchStep Step(IReadOnlyList<TileWorker> tiles, IDenoiser denoiser, IScheduler scheduler, NoiseField noise, int step)
    {
        var alphaBar = scheduler.AlphaBar(step);
        var context = new DenoiseContext(step, scheduler.Steps, alphaBar, scheduler.Timestep(step), SignalFraction: scheduler.SignalFraction(step));
        var halo = denoiser.Halo(context);
        context = context with { Origins = tiles.Select(t => (t.Window.Y - halo, t.Window.X - halo)).ToArray() };
        using var scope = NewDisposeScope();

        var batch = stack(tiles.Select(t => scheduler.ModelInput(t.Input(halo), step)).ToArray());
        var watch = Stopwatch.StartNew();
        var predictions = denoiser.Predict(batch, halo, context);
        var seconds = watch.Elapsed.TotalSeconds;

        var proposals = new Tensor[tiles.Count];
        for (var i = 0; i < tiles.Count; i++)
        {
            var core = tiles[i].Core;
            var (sample, epsilon) = Prediction.Decompose(scheduler.ModelInput(core, step), predictions[i], denoiser.Prediction, alphaBar);
            Tensor? injected = null;
            if (scheduler.UsesNoise(step))
            {
                var (rows, columns) = tiles[i].CoreIndices();
                injected = noise.Sample(step + 1, (int)core.shape[0], rows, columns).to(core.device);
            }
            proposals[i] = scheduler.Step(core, sample, epsilon, step, injected).MoveToOuterDisposeScope();
        }
        return new BatchStep(proposals, seconds);
    }
}
