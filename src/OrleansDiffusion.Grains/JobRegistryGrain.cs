using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains;

/// <summary>The index of job ids (newest last) and the set of admitted, unfinished jobs: what admission control and
/// the job list need, persisted. Statuses are never copied here: the list asks each job's own grain.</summary>
[GenerateSerializer, Alias("odiff.JobIndex")]
public sealed class JobIndex
{
    [Id(0)] public List<JobIndexEntry> Jobs { get; set; } = [];
    [Id(1)] public HashSet<string> Active { get; set; } = [];
}

[GenerateSerializer, Immutable, Alias("odiff.JobIndexEntry")]
public sealed record JobIndexEntry([property: Id(0)] string JobId, [property: Id(1)] DateTimeOffset CreatedAt);

/// <summary>The cluster's job list and admission control (key 0).</summary>
public sealed class JobRegistryGrain(
    [PersistentState("index", StorageNames.Jobs)] IPersistentState<JobIndex> index,
    [FromKeyedServices(StorageNames.Jobs)] IGrainStorage storage)
    : Grain, IJobRegistryGrain, IJobIndexGrain
{
    /// <summary>Job ids kept in the index; the oldest finished ones are dropped beyond it (their records stay).</summary>
    public const int MaxIndexed = 10_000;

    /// <summary>How long a refused client is told to wait.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    public async Task AdmitAsync(string jobId, DateTimeOffset createdAt, int capacity)
    {
        var state = index.State;
        if (state.Active.Contains(jobId)) return;
        if (state.Active.Count >= capacity) throw new ClusterBusyException(state.Active.Count, capacity, RetryAfter);
        state.Active.Add(jobId);
        state.Jobs.Add(new JobIndexEntry(jobId, createdAt));
        if (state.Jobs.Count > MaxIndexed)
        {
            var dropped = state.Jobs.Where(j => !state.Active.Contains(j.JobId)).Take(state.Jobs.Count - MaxIndexed).ToHashSet();
            state.Jobs.RemoveAll(dropped.Contains);
        }
        await index.WriteStateAsync();
    }

    public async Task FinishedAsync(string jobId)
    {
        if (index.State.Active.Remove(jobId)) await index.WriteStateAsync();
    }

    public async Task<IReadOnlyList<JobStatus>> ListAsync(int max)
    {
        var newest = index.State.Jobs.TakeLast(Math.Clamp(max, 0, MaxIndexed)).ToArray(); // a copy: other turns interleave
        var statuses = await Task.WhenAll(newest.Select(j => StatusAsync(j.JobId)));
        return statuses.OfType<JobStatus>().OrderByDescending(s => s.CreatedAt).ToList();
    }

    /// <summary>The job's live status from its coordinator; while that is unreachable (its silo was just lost and the
    /// job is resuming), the status its durable record gives.</summary>
    private async Task<JobStatus?> StatusAsync(string jobId)
    {
        var coordinator = GrainFactory.GetGrain<ICoordinatorGrain>(jobId);
        try
        {
            return await coordinator.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            var state = new GrainState<JobRecord>();
            await storage.ReadStateAsync(CoordinatorGrain.RecordName, coordinator.GetGrainId(), state);
            return state.RecordExists && state.State is { Spec: not null } known ? CoordinatorGrain.StatusOf(jobId, known) : null;
        }
    }
}
