using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>
/// Every tile's state (window plus context) after a synced step, in the form that is smallest to keep: the synced
/// canvas for the canvas-based modes (each tile's state is its crop), or each tile's own window for <c>none</c>,
/// whose tiles never adopt a shared canvas. Owns its tensors.
/// </summary>
public sealed class TileStates : IDisposable
{
    private TileStates(Tensor? canvas, Tensor[]? tiles) => (Canvas, Tiles) = (canvas, tiles);

    /// <summary>[C, H, W], or null when the states are per tile.</summary>
    public Tensor? Canvas { get; }

    /// <summary>One [C, h + 2·context, w + 2·context] per tile, or null when the states are a canvas.</summary>
    public IReadOnlyList<Tensor>? Tiles { get; }

    public static TileStates FromCanvas(Tensor canvas) => new(canvas, null);

    public static TileStates FromTiles(Tensor[] tiles) => new(null, tiles);

    /// <summary>A new tensor with tile <paramref name="index"/>'s state, exactly what the tile adopted at this step.</summary>
    public Tensor For(JobPlan plan, int index) => Canvas is { } canvas
        ? CanvasRegions.Crop(canvas, plan.Layout.Windows[index], plan.Context, plan.Layout.Wrap)
        : Tiles![index].clone();

    public void Dispose()
    {
        Canvas?.Dispose();
        foreach (var tile in Tiles ?? []) tile.Dispose();
    }
}

/// <summary>Where a run starts: after <paramref name="Step"/> steps, with every tile in <paramref name="States"/>
/// (a checkpoint). The states stay owned by the caller.</summary>
public sealed record EngineStart(int Step, TileStates States);

/// <summary>What a step ended with, valid only during <see cref="IStepObserver.OnSyncedAsync"/>.</summary>
/// <param name="StepsDone">steps completed, counting this one.</param>
/// <param name="Canvas">the synced canvas, or null when this step produced none (<c>none</c> before the last step).</param>
/// <param name="Proposals">every tile's proposal this step (its next state under <c>none</c>); empty on a band-only step.</param>
/// <param name="Thumbnails">on a band-only step, every tile's preview thumbnail (<see cref="Imaging.PreviewMosaic"/>).</param>
public sealed record SyncedStep(int StepsDone, Tensor? Canvas, IReadOnlyList<Tensor> Proposals, IReadOnlyList<TensorPayload>? Thumbnails = null)
{
    /// <summary>True when whole windows travelled this step: the coordinator holds every tile's state (a checkpoint can be taken).</summary>
    public bool IsFull => Thumbnails is null;

    /// <summary>A copy that outlives the call (for checkpoints): the canvas when there is one, else every tile's proposal.</summary>
    public TileStates Snapshot() => Canvas is { } canvas
        ? TileStates.FromCanvas(canvas.clone())
        : TileStates.FromTiles(Proposals.Select(p => p.clone()).ToArray());
}

/// <summary>Sees every step's synced result before the tiles adopt it (previews, checkpoints); not the last step's, which is the image.</summary>
public interface IStepObserver
{
    ValueTask OnSyncedAsync(SyncedStep step, CancellationToken cancellationToken);
}
