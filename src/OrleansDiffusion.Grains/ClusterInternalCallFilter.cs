using System.Collections.Concurrent;
using System.Reflection;
using Orleans.Runtime;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains;

/// <summary>Refuses calls from clients to interfaces marked <see cref="ClusterInternalAttribute"/> (tile grains, the job
/// index): a client can submit, watch, cancel, list and fetch, and nothing else. Calls between grains pass.</summary>
public sealed class ClusterInternalCallFilter : IIncomingGrainCallFilter
{
    // Every call passes here, tile steps included: reading the attribute by reflection each time cost about 2 % of a
    // worker's CPU.
    private static readonly ConcurrentDictionary<Type, bool> Internal = new();

    public Task Invoke(IIncomingGrainCallContext context)
    {
        var declaring = context.InterfaceMethod?.DeclaringType;
        if (declaring is not null && Internal.GetOrAdd(declaring, type => type.GetCustomAttribute<ClusterInternalAttribute>() is not null)
            && (context.SourceId is not { } source || GrainTypePrefix.IsClient(source)))
            throw new UnauthorizedAccessException($"{declaring.Name}.{context.MethodName} is internal to the cluster and cannot be called by a client");
        return context.Invoke();
    }
}
