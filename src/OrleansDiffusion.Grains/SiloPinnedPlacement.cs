using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace OrleansDiffusion.Grains;

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
