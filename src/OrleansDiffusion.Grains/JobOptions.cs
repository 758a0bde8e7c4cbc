namespace OrleansDiffusion.Grains;

/// <summary>How coordinators run, checkpoint and recover jobs (bound from the silo's configuration).</summary>
public sealed class JobOptions
{
    /// <summary>Steps between checkpoints of the synced canvas (0: none).</summary>
    public int CheckpointEvery { get; set; } = 5;

    /// <summary>Largest share of a job's time that checkpoints may take; a due checkpoint is skipped beyond it.</summary>
    public double CheckpointBudget { get; set; } = 0.05;

    /// <summary>Tile re-creations a job may need before it fails.</summary>
    public int MaxRecoveries { get; set; } = 32;

    /// <summary>How long a job waits for an accelerator silo to appear before it fails.</summary>
    public TimeSpan WorkerWaitTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one tile call waits for a step before returning "still running" (well under the response timeout).</summary>
    public TimeSpan TileCallWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Period of the reminder that re-activates a running job's coordinator after its silo was lost.</summary>
    public TimeSpan ResumeCheckPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Payload bytes one tile host message carries at most each way (the tiles' updates down, their replies up):
    /// a silo hosting hundreds of large tiles gets several messages per step, never one of gigabytes.</summary>
    public long HostMessageBytes { get; set; } = 16 << 20;

    /// <summary>Jobs queued or running at once in the cluster; further submits get <c>ClusterBusyException</c>.</summary>
    public int MaxQueuedJobs { get; set; } = 64;

    /// <summary>Jobs are planned for <c>odiff bench scaling</c>'s simulated denoiser, which reads only its window like a
    /// Stable Diffusion UNet: no context bands travel, whatever model the spec names (set on the benchmark's silos only).</summary>
    public bool PlanForSimulatedDenoiser { get; set; }
}

/// <summary>Where coordinators write finished images and job checkpoints.</summary>
public sealed class OutputStoreOptions
{
    public string Directory { get; set; } = "outputs";

    /// <summary>Checkpoints; default: <c>.checkpoints</c> under <see cref="Directory"/> (the shared output volume).</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>The silos' model store: each model is a diffusers folder directly under it, named as jobs name it.</summary>
    public string? ModelsDirectory { get; set; }
}

/// <summary>Names of the grain storage providers.</summary>
public static class StorageNames
{
    public const string Jobs = "jobs";
}
