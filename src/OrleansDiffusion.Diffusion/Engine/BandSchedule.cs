using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Exchange;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>
/// Which steps move only bands: all but the full exchanges, which come every <paramref name="FullEvery"/> steps (the
/// checkpoint steps, where the coordinator needs every tile's state). The last step moves bands too, and then each tile
/// sends only the part of the image it owns; under <see cref="SyncMode.None"/> (each cell from the window it lies
/// deepest in, not a partition by rows and columns) the last step moves whole windows. A tile lost between full
/// exchanges rolls the run back to the last one.
/// </summary>
/// <param name="FullEvery">steps between full exchanges; 0: none before the last step.</param>
public sealed record BandSchedule(BandExchange Exchange, int FullEvery)
{
    /// <summary>True when step <paramref name="step"/> (0-based) of <paramref name="steps"/> exchanges whole windows.</summary>
    public bool IsFull(int step, int steps) => step == steps - 1
        ? !Exchange.Exchanges
        : FullEvery > 0 && (step + 1) % FullEvery == 0;
}

/// <summary>
/// A runtime lost tiles during a band-only step, when it no longer holds their states, and has re-created every tile
/// in its state before <see cref="Step"/> (the last full exchange): the engine redoes the steps from there, which gives
/// the same result because every step is deterministic.
/// </summary>
public sealed class TileRollbackException(int step, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>The step the run continues from.</summary>
    public int Step { get; } = step;
}
