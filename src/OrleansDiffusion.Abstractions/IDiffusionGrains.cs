using Orleans.Concurrency;
using Orleans.Runtime;

namespace OrleansDiffusion.Abstractions;

// Client-facing: submit, watch, cancel, list and fetch, and nothing else. Every value a client sends is checked
// again on the silo; interfaces marked [ClusterInternal] are refused to clients by the silos' call filter.

/// <summary>One per job (key: the job id, checked with <see cref="JobIds"/>): its durable record and the coordinator that
/// runs the engine over the job's tile grains.</summary>
[Alias("odiff.ICoordinatorGrain")]
public interface ICoordinatorGrain : IGrainWithStringKey
{
    /// <summary>Starts the job and returns its status at once. Submitting the same spec again returns the existing job;
    /// another spec under the same id is an <see cref="InvalidJobException"/> on field "job-id".</summary>
    /// <exception cref="ClusterBusyException">the cluster's job queue is full; nothing was recorded.</exception>
    [Alias("Submit")]
    Task<JobStatus> SubmitAsync(JobSpec spec);

    /// <summary>The job's status, or null when no job has this id.</summary>
    [Alias("GetStatus"), AlwaysInterleave]
    Task<JobStatus?> GetStatusAsync();

    /// <summary>The current status, then every status with a new step or state, and at least one every
    /// <see cref="WatchHeartbeat"/>; ends after the first finished one. Nothing when no job has this id.</summary>
    [Alias("Watch"), AlwaysInterleave]
    IAsyncEnumerable<JobStatus> WatchAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops the job after its current step; its tiles release their device memory. A finished job is unchanged.</summary>
    [Alias("Cancel"), AlwaysInterleave]
    Task CancelAsync();

    /// <summary>Up to <paramref name="count"/> bytes of the finished PNG from <paramref name="offset"/> (empty at the end).</summary>
    [Alias("ReadOutput"), AlwaysInterleave]
    Task<byte[]> ReadOutputAsync(long offset, int count);

    /// <summary>How often a watch yields the status even when nothing changed.</summary>
    static TimeSpan WatchHeartbeat => TimeSpan.FromSeconds(10);
}

/// <summary>The cluster's jobs (key 0): a list derived from the jobs' own records.</summary>
[Alias("odiff.IJobRegistryGrain")]
public interface IJobRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>The newest <paramref name="max"/> jobs, newest first, each as its coordinator reports it now.</summary>
    [Alias("List"), AlwaysInterleave]
    Task<IReadOnlyList<JobStatus>> ListAsync(int max);
}

// Cluster-internal.

/// <summary>Admission and the index of job ids (key 0, the same grain as <see cref="IJobRegistryGrain"/>). Only job grains call it.</summary>
[Alias("odiff.IJobIndexGrain"), ClusterInternal]
public interface IJobIndexGrain : IGrainWithIntegerKey
{
    /// <summary>Records a new job as admitted; throws <see cref="ClusterBusyException"/> when the queue is full.</summary>
    [Alias("Admit")]
    Task AdmitAsync(string jobId, DateTimeOffset createdAt, int capacity);

    /// <summary>The job no longer takes a place in the queue.</summary>
    [Alias("Finished")]
    Task FinishedAsync(string jobId);
}

/// <summary>One tile of one run of a job, activated only on accelerator silos. Key: "{jobId}/{epoch}/{tileIndex}".
/// No call waits on long work: a step is started and then awaited in calls shorter than the response timeout.</summary>
[Alias("odiff.ITileGrain"), ClusterInternal]
public interface ITileGrain : IGrainWithStringKey
{
    /// <summary>The key of tile <paramref name="tile"/> (its window index) of run <paramref name="epoch"/> of a job.</summary>
    static string Key(string jobId, int epoch, int tile) => $"{jobId}/{epoch}/{tile}";

    /// <summary>Takes the tile's assignment and starts building its state on its device (in the background: a model
    /// may take a minute to load). Idempotent; a new start step or state re-creates the tile.</summary>
    [Alias("Initialize")]
    Task InitializeAsync(TileAssignment assignment);

    /// <summary>Adopts <paramref name="update"/> (the synced result of the step before, when the tile has not adopted it
    /// yet), then starts <paramref name="call"/>'s step if it has not started and waits for it at most
    /// <paramref name="wait"/>: the proposal, or null while it still runs (call again with the same arguments). A repeated
    /// call for a finished step returns the same proposal without recomputing. One call per tile and step carries both
    /// directions of the exchange.</summary>
    /// <exception cref="TileLostException">the tile has no state (its silo was lost, or it was released), or is at
    /// another step.</exception>
    [Alias("Denoise")]
    Task<TileProposal?> DenoiseAsync(StepCall call, TileUpdate? update, TimeSpan wait);

    /// <summary>After the job's last step: adopts <paramref name="update"/> (its synced bands of that step, when not adopted
    /// yet) and returns the part of the image this tile owns, [C, rows, columns] (the band exchange's owned cells).
    /// Idempotent.</summary>
    /// <exception cref="TileLostException">the tile has no state, or did not denoise <paramref name="call"/>'s step.</exception>
    [Alias("Deliver")]
    Task<TensorPayload> DeliverAsync(StepCall call, TileUpdate update);

    /// <summary>Stops pending work, frees device memory and deactivates.</summary>
    [Alias("Release")]
    Task ReleaseAsync();
}

/// <summary>The tiles of a job that live on one accelerator silo, stepped through one message per step: the
/// coordinator's message count per step is the number of silos, not of tiles, and the silo's tiles reach its devices
/// together. Key: the silo's address (<see cref="SiloAddress.ToParsableString"/>); activated only on that silo. A relay
/// without state: each tile's call keeps its own idempotence and epoch fencing.</summary>
[Alias("odiff.ITileHostGrain"), ClusterInternal]
public interface ITileHostGrain : IGrainWithStringKey
{
    /// <summary><see cref="ITileGrain.DenoiseAsync"/> for each of <paramref name="tiles"/>, in parallel: one outcome per
    /// tile, in the same order.</summary>
    [Alias("Denoise")]
    Task<TileStepOutcome[]> DenoiseAsync(StepCall call, TileCall[] tiles, TimeSpan wait);
}

/// <summary>Marks a grain interface that only silos may call; clients are refused.</summary>
[AttributeUsage(AttributeTargets.Interface)]
public sealed class ClusterInternalAttribute : Attribute;

/// <summary>A tile grain without state: its silo was lost, its directory entry moved, or it was released. The
/// coordinator re-creates it from its last synced state.</summary>
[GenerateSerializer, Alias("odiff.TileLostException")]
public sealed class TileLostException : Exception
{
    public TileLostException()
    {
    }

    public TileLostException(string message)
        : base(message)
    {
    }

    public TileLostException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
