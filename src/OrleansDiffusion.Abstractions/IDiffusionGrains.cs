using Orleans.Concurrency;

namespace OrleansDiffusion.Abstractions;

/// <summary>One tile of one job, activated only on accelerator silos. Key: "{jobId}/{epoch}/{tileIndex}".</summary>
[Alias("odiff.ITileGrain")]
public interface ITileGrain : IGrainWithStringKey
{
    /// <summary>Creates the tile's state (initial noise from the shared field) on its device. Idempotent.</summary>
    [Alias("Initialize")]
    Task<string> InitializeAsync(TileAssignment assignment);

    /// <summary>Denoises the window for <paramref name="call"/>'s step and returns the proposal. A repeated call
    /// for the same step returns the same proposal without recomputing.</summary>
    [Alias("Denoise")]
    Task<TileProposal> DenoiseAsync(StepCall call);

    /// <summary>Adopts the synced window (with context) for the next step, or the tile's own proposal when null.</summary>
    [Alias("Apply")]
    Task ApplyAsync(StepCall call, TensorPayload? update);

    /// <summary>Frees device memory and deactivates.</summary>
    [Alias("Release")]
    Task ReleaseAsync();
}

/// <summary>One per job (key: the job id): runs the engine over the job's tile grains.</summary>
[Alias("odiff.ICoordinatorGrain")]
public interface ICoordinatorGrain : IGrainWithStringKey
{
    /// <summary>Starts the job (idempotent for the same spec) and returns at once.</summary>
    [Alias("Start")]
    Task<JobStatus> StartAsync(JobSpec spec);

    [Alias("GetStatus"), AlwaysInterleave]
    Task<JobStatus?> GetStatusAsync();

    /// <summary>Long poll: returns when more than <paramref name="afterStep"/> steps are done, the job has finished,
    /// or <paramref name="timeout"/> has passed.</summary>
    [Alias("WaitForProgress"), AlwaysInterleave]
    Task<JobStatus?> WaitForProgressAsync(int afterStep, TimeSpan timeout);

    /// <summary>Stops the job after the current step; tiles release their device memory.</summary>
    [Alias("Cancel"), AlwaysInterleave]
    Task CancelAsync();

    /// <summary>Up to <paramref name="count"/> bytes of the finished PNG from <paramref name="offset"/> (empty at the end).</summary>
    [Alias("ReadOutput"), AlwaysInterleave]
    Task<byte[]> ReadOutputAsync(long offset, int count);
}

/// <summary>The cluster's list of jobs (key 0).</summary>
[Alias("odiff.IJobRegistryGrain")]
public interface IJobRegistryGrain : IGrainWithIntegerKey
{
    [Alias("Record")]
    Task RecordAsync(JobStatus status);

    [Alias("List")]
    Task<IReadOnlyList<JobStatus>> ListAsync(int max);

    [Alias("Get")]
    Task<JobStatus?> GetAsync(string jobId);
}
