using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
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

/// <summary>Places a grain on the silo its key names (<see cref="SiloAddress.ToParsableString"/>), and nowhere else: a
/// key naming a silo that is gone, or one that does not host the grain's class, is refused as unavailable.</summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class SiloPinnedPlacement : PlacementStrategy
{
    internal static readonly SiloPinnedPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloPinnedPlacementAttribute() : PlacementAttribute(SiloPinnedPlacement.Instance);

public sealed class SiloPinnedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString() ?? "";
        var silo = SiloAddress.FromParsableString(key);
        return context.GetCompatibleSilos(target).Contains(silo)
            ? Task.FromResult(silo)
            : throw new SiloUnavailableException($"silo {key} is not an active accelerator silo");
    }
}

/// <summary>How the tiles on one silo are split into tile host messages.</summary>
internal static class TileHostMessages
{
    /// <summary><paramref name="tiles"/> in order, in runs whose bytes down and bytes up each stay within
    /// <paramref name="limit"/>; a tile larger than the limit goes alone.</summary>
    public static IEnumerable<int[]> Split(int[] tiles, Func<int, long> down, Func<int, long> up, long limit)
    {
        var run = new List<int>();
        long runDown = 0, runUp = 0;
        foreach (var tile in tiles)
        {
            var (d, u) = (down(tile), up(tile));
            if (run.Count > 0 && (runDown + d > limit || runUp + u > limit))
            {
                yield return [.. run];
                (run, runDown, runUp) = ([], 0, 0);
            }
            run.Add(tile);
            (runDown, runUp) = (runDown + d, runUp + u);
        }
        if (run.Count > 0) yield return [.. run];
    }
}
