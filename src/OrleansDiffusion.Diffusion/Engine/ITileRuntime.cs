using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>The tiles' side after one step: proposals in layout order (owned by the runtime) and timings.</summary>
/// <param name="DenoiseSeconds">time inside denoisers on the critical path of this step.</param>
/// <param name="ForwardCalls">denoiser forward passes this step took.</param>
/// <param name="Bytes">payload bytes moved from tiles to the coordinator.</param>
public sealed record TileStepResult(IReadOnlyList<Tensor> Proposals, double DenoiseSeconds, int ForwardCalls, long Bytes);

/// <summary>
/// Where a job's tiles live and run: in this process, or on tile grains spread over accelerator silos.
/// The engine drives any runtime through the same three calls, so there is one step loop.
/// </summary>
public interface ITileRuntime : IAsyncDisposable
{
    /// <summary>Creates every tile's initial state: from the noise field, or from <paramref name="start"/>'s states.</summary>
    Task StartAsync(JobPlan plan, EngineStart? start, CancellationToken cancellationToken);

    /// <summary>Every tile denoises its window for <paramref name="step"/> and proposes x at step + 1.</summary>
    Task<TileStepResult> DenoiseAsync(int step, CancellationToken cancellationToken);

    /// <summary>Each tile adopts its synced window (null: its own proposal). The runtime takes ownership of
    /// the update tensors; returns the payload bytes sent to the tiles.</summary>
    Task<long> ScatterAsync(int step, IReadOnlyList<Tensor?> updates, CancellationToken cancellationToken);
}
