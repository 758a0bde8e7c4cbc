using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains;

/// <summary>The cluster's list of jobs and their latest states (key 0), kept in memory on a coordinator silo.</summary>
public sealed class JobRegistryGrain : Grain, IJobRegistryGrain
{
    private readonly Dictionary<string, JobStatus> _jobs = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        DelayDeactivation(TimeSpan.FromDays(7));
        return Task.CompletedTask;
    }

    public Task RecordAsync(JobStatus status)
    {
        // A late "running" record must not hide a finished job.
        if (!_jobs.TryGetValue(status.JobId, out var known) || !known.IsFinished)
            _jobs[status.JobId] = status with { Preview = null };
        return Task.CompletedTask;
    }

    public Task<JobStatus?> GetAsync(string jobId) => Task.FromResult(_jobs.GetValueOrDefault(jobId));

    public Task<IReadOnlyList<JobStatus>> ListAsync(int max) =>
        Task.FromResult<IReadOnlyList<JobStatus>>(_jobs.Values.OrderByDescending(j => j.CreatedAt).Take(Math.Max(0, max)).ToList());
}
