using Orleans.Concurrency;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains;

/// <summary>
/// Relays one step call to the tiles of a job that live on this silo (see <see cref="ITileHostGrain"/>). Silo-local
/// grain calls cost no network and no copy, and the tiles' requests reach the device executor together, so it batches
/// them without waiting out their spread. Reentrant: it keeps no state, and jobs step through it concurrently.
/// </summary>
[SiloPinnedPlacement]
[Reentrant]
public sealed class TileHostGrain(IGrainFactory grains) : Grain, ITileHostGrain
{
    public Task<TileStepOutcome[]> DenoiseAsync(StepCall call, TileCall[] tiles, TimeSpan wait) =>
        Task.WhenAll(tiles.Select(async tile =>
        {
            try
            {
                var proposal = await grains.GetGrain<ITileGrain>(ITileGrain.Key(call.JobId, call.Epoch, tile.Tile)).DenoiseAsync(call, tile.Update, wait);
                return new TileStepOutcome(proposal);
            }
            catch (TimeoutException)
            {
                return new TileStepOutcome(null); // unknown outcome: the coordinator repeats the (idempotent) call
            }
            catch (Exception e) when (GrainTileRuntime.IsTileLoss(e))
            {
                return new TileStepOutcome(null, e.Message);
            }
        }));
}
