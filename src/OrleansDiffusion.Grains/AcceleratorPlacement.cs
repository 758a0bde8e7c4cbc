using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace OrleansDiffusion.Grains;

/// <summary>
/// Places tile grains on accelerator silos only (the tile grain class is registered only there, so the
/// compatible silos are exactly the accelerator silos), spreading a job's tiles round-robin by tile index.
/// It looks at the candidate silos, never at the caller's, so coordinators on CPU silos place tiles correctly.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class AcceleratorPlacement : PlacementStrategy
{
    internal static readonly AcceleratorPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class AcceleratorPlacementAttribute() : PlacementAttribute(AcceleratorPlacement.Instance);

public sealed class AcceleratorPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToArray();
        if (silos.Length == 0) throw new OrleansException("no accelerator silo is available for tile grains");
        var key = target.GrainIdentity.Key.ToString() ?? "";
        var index = int.TryParse(key[(key.LastIndexOf('/') + 1)..], out var tile) ? tile : Math.Abs(key.GetHashCode(StringComparison.Ordinal));
        return Task.FromResult(silos[index % silos.Length]);
    }
}
