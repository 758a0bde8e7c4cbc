using OrleansDiffusion.Abstractions;
using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>What the coordinator sees after one step: every tile's proposed window (x at step + 1), in layout order.</summary>
public sealed record SyncInput(JobPlan Plan, IReadOnlyList<Tensor> Proposals, int Step, int Steps)
{
    public bool IsLast => Step == Steps - 1;
}

/// <summary>
/// The coordinator's answer: the synced canvas (always on the last step) and, before the last step, each
/// tile's next window including its context (null: the tile keeps its own proposal). Updates may be views that share
/// storage with the canvas and with each other (overlapping windows): read them, never modify them in place.
/// </summary>
public sealed class SyncResult(Tensor? canvas, Tensor?[] updates) : IDisposable
{
    public Tensor? Canvas { get; private set; } = canvas;
    public Tensor?[] Updates { get; } = updates;

    /// <summary>Hands the canvas to the caller, who then owns (and disposes) it.</summary>
    public Tensor TakeCanvas()
    {
        var canvas = Canvas ?? throw new InvalidOperationException("this sync step produced no canvas");
        Canvas = null;
        return canvas;
    }

    public void Dispose() => Canvas?.Dispose();
}

/// <summary>One way of keeping tiles in agreement (DESIGN §5.3). Stateless between steps.</summary>
public interface ISyncMode
{
    SyncMode Mode { get; }

    /// <summary>Pixels of canvas context each tile keeps around its window, given the denoiser's receptive halo (0 for non-local models).</summary>
    int Context(int maxDenoiserHalo) => 0;

    /// <summary>Whether windows overlap under this mode (halo tiles partition the canvas instead).</summary>
    bool OverlapsWindows => true;

    SyncResult Synchronize(SyncInput input);
}
