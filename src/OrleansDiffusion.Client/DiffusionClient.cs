using System.Runtime.CompilerServices;
using Orleans.Runtime;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Client;

/// <summary>
/// The OrleansDiffusion client SDK: submits jobs to a running cluster, watches their progress, cancels them,
/// fetches finished images and lists jobs. Thread-safe; register it once per process with
/// <see cref="DiffusionClientHostingExtensions.UseDiffusionClient"/> or create one over any connected
/// <see cref="IClusterClient"/>.
/// </summary>
public sealed class DiffusionClient
{
    /// <summary>How long a watch keeps reconnecting to a job whose coordinator is unreachable (its silo was lost and the
    /// job is resuming on another) before it gives up.</summary>
    public static readonly TimeSpan ReconnectPatience = TimeSpan.FromMinutes(5);

    /// <summary>Bytes fetched per call by the stream of <see cref="OpenResultAsync"/>.</summary>
    public const int ResultChunkBytes = 1 << 20;

    private readonly IClusterClient _cluster;
    private readonly TimeProvider _time;

    /// <summary>Creates a client over a connected Orleans cluster client.</summary>
    public DiffusionClient(IClusterClient cluster)
        : this(cluster, TimeProvider.System)
    {
    }

    internal DiffusionClient(IClusterClient cluster, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        _cluster = cluster;
        _time = time;
    }

    /// <summary>
    /// Validates <paramref name="spec"/> and starts it as a job on the cluster; returns once the job's coordinator has
    /// accepted it (the job runs on). Submitting the same spec again under the same id returns that job; another spec
    /// under an existing id is an <see cref="InvalidJobException"/> on "job-id". The silo checks everything again.
    /// </summary>
    /// <param name="spec">The job; checked with <see cref="JobSpecValidator"/> first.</param>
    /// <param name="jobId">The job id (letters, digits, <c>.</c>, <c>_</c>, <c>-</c>; at most 64 characters); null picks a
    /// new sortable id of the form <c>yyyyMMdd-HHmmss-xxxxxx</c> (UTC time and 6 random characters).</param>
    /// <param name="cancellationToken">Stops waiting for the coordinator's answer (the job may still have started).</param>
    /// <returns>The job id.</returns>
    /// <exception cref="InvalidJobException">The spec or the job id is invalid; nothing was sent to the cluster.</exception>
    /// <exception cref="ClusterBusyException">The cluster's job queue is full; retry after its <c>RetryAfter</c>.</exception>
    public async Task<string> SubmitAsync(JobSpec spec, string? jobId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = JobSpecValidator.ValidateForCluster(spec).ToList();
        if (jobId is not null && JobIds.Check(jobId) is { } problem) errors.Add(new ValidationError("job-id", problem));
        if (errors.Count > 0) throw new InvalidJobException(errors);

        jobId ??= JobIds.New(_time.GetUtcNow());
        await Coordinator(jobId).SubmitAsync(spec).WaitAsync(cancellationToken);
        return jobId;
    }

    /// <summary>
    /// Watches a job: yields its current status, then each status with a new step or state (streamed by the job's
    /// coordinator grain), and ends after the first finished one (<see cref="JobStatus.IsFinished"/>). When the
    /// coordinator's silo is lost the watch reconnects (the job resumes on another coordinator) for up to
    /// <see cref="ReconnectPatience"/>. Steps may go back once after a resume from a checkpoint.
    /// </summary>
    /// <exception cref="JobNotFoundException">The cluster knows no job with this id.</exception>
    public async IAsyncEnumerable<JobStatus> WatchAsync(string jobId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var coordinator = Coordinator(CheckedId(jobId));
        JobStatus? last = null;
        var lostSince = (DateTimeOffset?)null;
        while (last is not { IsFinished: true })
        {
            var stream = coordinator.WatchAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (true)
                {
                    bool more;
                    try
                    {
                        more = await stream.MoveNextAsync();
                    }
                    catch (Exception e) when (IsReconnectable(e) && !cancellationToken.IsCancellationRequested)
                    {
                        lostSince ??= _time.GetUtcNow();
                        if (_time.GetUtcNow() - lostSince > ReconnectPatience) throw;
                        break;
                    }
                    if (!more)
                    {
                        if (last is null) throw new JobNotFoundException(jobId);
                        break;
                    }
                    lostSince = null;
                    var status = stream.Current;
                    if (last is not null && status.Step == last.Step && status.State == last.State && status.Epoch == last.Epoch) continue;
                    last = status;
                    yield return status;
                    if (status.IsFinished) yield break;
                }
            }
            finally
            {
                await stream.DisposeAsync();
            }
            await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken);
        }
    }

    /// <summary>The coordinator's silo went away mid-watch: the job resumes elsewhere, so ask again.</summary>
    private static bool IsReconnectable(Exception e) => e is SiloUnavailableException or OrleansMessageRejectionException or EnumerationAbortedException
        or TimeoutException or Orleans.Runtime.Messaging.ConnectionFailedException or OrleansException;

    /// <summary>The job's current status, or null when the cluster knows no job with this id.</summary>
    public Task<JobStatus?> GetStatusAsync(string jobId, CancellationToken cancellationToken = default) =>
        Coordinator(CheckedId(jobId)).GetStatusAsync().WaitAsync(cancellationToken);

    /// <summary>Asks the job to stop after its current step; its tiles release their device memory. Watch the job to see
    /// it reach <see cref="JobState.Cancelled"/>. Cancelling a finished job changes nothing.</summary>
    /// <exception cref="JobNotFoundException">The cluster knows no job with this id.</exception>
    public async Task CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var coordinator = Coordinator(CheckedId(jobId));
        _ = await coordinator.GetStatusAsync().WaitAsync(cancellationToken) ?? throw new JobNotFoundException(jobId);
        await coordinator.CancelAsync().WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Opens the finished job's PNG as a read-only, forward-only stream that fetches it from the coordinator in
    /// <see cref="ResultChunkBytes"/> chunks as it is read. Dispose it when done.
    /// </summary>
    /// <exception cref="JobNotFoundException">The cluster knows no job with this id.</exception>
    /// <exception cref="InvalidOperationException">The job has not completed (still running, failed or cancelled).</exception>
    public async Task<Stream> OpenResultAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var coordinator = Coordinator(CheckedId(jobId));
        var status = await coordinator.GetStatusAsync().WaitAsync(cancellationToken) ?? throw new JobNotFoundException(jobId);
        if (status.State != JobState.Completed)
        {
            var reason = status.State switch
            {
                JobState.Failed => $"failed: {status.Error}",
                JobState.Cancelled => "was cancelled",
                _ => $"is {status.State.ToString().ToLowerInvariant()} (step {status.Step}/{status.Spec.Steps})",
            };
            throw new InvalidOperationException($"Job '{jobId}' has no result: it {reason}.");
        }
        return new JobResultStream(coordinator, ResultChunkBytes);
    }

    /// <summary>The models in the cluster's model store: name, family, parameter count, dtypes and which silos have them.</summary>
    public Task<IReadOnlyList<ClusterModel>> ListModelsAsync(CancellationToken cancellationToken = default) =>
        _cluster.GetGrain<IModelCatalogGrain>(0).ListAsync().WaitAsync(cancellationToken);

    /// <summary>The cluster's jobs, newest first as the job registry orders them, at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<JobStatus>> ListJobsAsync(int max = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        var lostSince = _time.GetUtcNow();
        while (true)
        {
            try
            {
                return await _cluster.GetGrain<IJobRegistryGrain>(0).ListAsync(max).WaitAsync(cancellationToken);
            }
            catch (Exception e) when (IsReconnectable(e) && !cancellationToken.IsCancellationRequested && _time.GetUtcNow() - lostSince < ReconnectPatience)
            {
                // The registry's silo was just lost; it re-activates on another coordinator once the cluster notices.
                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Submits <paramref name="spec"/> under a new id and watches it to the end, reporting each new status to
    /// <paramref name="progress"/>. Cancelling <paramref name="cancellationToken"/> cancels the job on the cluster too.
    /// </summary>
    /// <returns>The finished status: <see cref="JobState.Completed"/>, <see cref="JobState.Failed"/> (see
    /// <see cref="JobStatus.Error"/>) or <see cref="JobState.Cancelled"/> (cancelled by someone else).</returns>
    /// <exception cref="InvalidJobException">The spec is invalid; nothing was sent to the cluster.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the job was asked to
    /// cancel too (best effort: if the cluster cannot be reached within 10 s, the job may run on).</exception>
    public async Task<JobStatus> RunAsync(JobSpec spec, IProgress<JobStatus>? progress = null, CancellationToken cancellationToken = default)
    {
        var jobId = await SubmitAsync(spec, cancellationToken: cancellationToken);
        try
        {
            JobStatus? last = null;
            await foreach (var status in WatchAsync(jobId, cancellationToken))
            {
                progress?.Report(status);
                last = status;
            }
            return last!;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await TryCancelAsync(jobId);
            throw;
        }
    }

    /// <summary>Why <paramref name="jobId"/> is not a valid job id (letters, digits, <c>.</c>, <c>_</c>, <c>-</c>; at most
    /// 64 characters), or null when it is.</summary>
    public static string? CheckJobId(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        return JobIds.Check(jobId);
    }

    /// <summary>Best effort (the caller is already being cancelled): at most 10 s, failures ignored.</summary>
    private async Task TryCancelAsync(string jobId)
    {
        try
        {
            await Coordinator(jobId).CancelAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // The job may run on; the caller asked to stop waiting, which has happened.
        }
    }

    private ICoordinatorGrain Coordinator(string jobId) => _cluster.GetGrain<ICoordinatorGrain>(jobId);

    private static string CheckedId(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (JobIds.Check(jobId) is { } problem) throw new ArgumentException($"Invalid job id '{jobId}': {problem}.", nameof(jobId));
        return jobId;
    }
}
