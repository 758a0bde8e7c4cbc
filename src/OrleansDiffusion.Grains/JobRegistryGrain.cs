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
public sealed class JobRegistryGrain([PersistentState("index", StorageNames.Jobs)] IPersistentState<JobIndex> index)
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
        var statuses = await Task.WhenAll(newest.Select(j => GrainFactory.GetGrain<ICoordinatorGrain>(j.JobId).GetStatusAsync()));
        return statuses.OfType<JobStatus>().OrderByDescending(s => s.CreatedAt).ToList();
    }
}
