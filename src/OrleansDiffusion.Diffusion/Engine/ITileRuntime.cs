using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>The tiles' side after one step: proposals in layout order, or on a band-only step each tile's upload (both
/// owned by the runtime), and timings.</summary>
/// <param name="DenoiseSeconds">time inside denoisers on the critical path of this step.</param>
/// <param name="ForwardCalls">denoiser forward passes this step took.</param>
/// <param name="Bytes">payload bytes moved from tiles to the coordinator.</param>
public sealed record TileStepResult(IReadOnlyList<Tensor> Proposals, double DenoiseSeconds, int ForwardCalls, long Bytes,
    IReadOnlyList<BandUpload>? Uploads = null);

/// <summary>
/// Where a job's tiles live and run: in this process, or on tile grains spread over accelerator silos.
/// The engine drives any runtime through the same three calls, so there is one step loop.
/// </summary>
public interface ITileRuntime : IAsyncDisposable
{
    /// <summary>Creates every tile's initial state: from the noise field, or from <paramref name="start"/>'s states.</summary>
    Task StartAsync(JobPlan plan, EngineStart? start, CancellationToken cancellationToken);

    /// <summary>Every tile denoises its window for <paramref name="step"/> and proposes x at step + 1: its whole window,
    /// or with <paramref name="bands"/> only its upload of the plan's band exchange.</summary>
    /// <exception cref="TileRollbackException">tiles were lost on a band-only step; every tile is back at an earlier step.</exception>
    Task<TileStepResult> DenoiseAsync(int step, bool bands, CancellationToken cancellationToken);

    /// <summary>Each tile adopts its synced window (null: its own proposal), at the latest with the next step's call.
    /// The runtime takes ownership of the update tensors; returns the payload bytes sent to the tiles.</summary>
    Task<long> ScatterAsync(int step, IReadOnlyList<Tensor?> updates, CancellationToken cancellationToken);

    /// <summary>After a band-only step each tile builds its next state from its own proposal and its reply, at the
    /// latest with the next step's call (the runtime takes ownership of the replies); returns the payload bytes sent to
    /// the tiles.</summary>
    /// <exception cref="TileRollbackException">tiles were lost; every tile is back at an earlier step.</exception>
    Task<long> ScatterBandsAsync(int step, IReadOnlyList<BandReply> replies, CancellationToken cancellationToken);

    /// <summary>After the last step, when it moved only bands: each tile builds its final window from its own proposal and
    /// its reply, and sends the cells of the image it owns (<see cref="BandExchange.Owned"/>), so the image is assembled
    /// without a whole window travelling (the runtime takes ownership of the replies). Returns the image [C, H, W] (the
    /// caller owns it) and the payload bytes moved both ways.</summary>
    /// <exception cref="TileRollbackException">tiles were lost; every tile is back at an earlier step.</exception>
    Task<(Tensor Canvas, long Bytes)> GatherAsync(int step, IReadOnlyList<BandReply> replies, CancellationToken cancellationToken);
}
