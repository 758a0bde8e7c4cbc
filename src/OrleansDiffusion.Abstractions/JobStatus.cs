namespace OrleansDiffusion.Abstractions;

[GenerateSerializer, Alias("odiff.JobState")]
public enum JobState
{
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>A job as the registry and clients see it.</summary>
[GenerateSerializer, Immutable, Alias("odiff.JobStatus")]
public sealed record JobStatus
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public JobState State { get; init; }
    [Id(2)] public required JobSpec Spec { get; init; }

    /// <summary>Steps completed so far.</summary>
    [Id(3)] public int Step { get; init; }

    [Id(4)] public int Tiles { get; init; }
    [Id(5)] public DateTimeOffset CreatedAt { get; init; }
    [Id(6)] public double ElapsedSeconds { get; init; }

    /// <summary>Set when the job completed.</summary>
    [Id(7)] public JobStatistics? Statistics { get; init; }

    /// <summary>Where the PNG was written (in the output store), once completed.</summary>
    [Id(8)] public string? OutputPath { get; init; }

    [Id(9)] public long OutputBytes { get; init; }
    [Id(10)] public string? Error { get; init; }
    [Id(11)] public double SeamScore { get; init; }

    /// <summary>A small PNG of the canvas after the latest step (at most 128 pixels on the long side), when previews are on.</summary>
    [Id(12)] public byte[]? Preview { get; init; }

    /// <summary>The last per-step timings (denoise and sync seconds of the latest step).</summary>
    [Id(13)] public double LastStepDenoiseSeconds { get; init; }
    [Id(14)] public double LastStepSyncSeconds { get; init; }

    /// <summary>"silo/device" of every tile, in layout order, once the tiles are placed.</summary>
    [Id(15)] public IReadOnlyList<string>? TilePlacement { get; init; }

    /// <summary>Every tile's state, silo, device and last step time, in layout order, once the tiles are placed.</summary>
    [Id(16)] public IReadOnlyList<TileDetail>? TileDetails { get; init; }

    /// <summary>Runs of the job so far: 1, plus one for each resume after its coordinator was lost.</summary>
    [Id(17)] public int Epoch { get; init; }

    /// <summary>Why a queued or running job is waiting (e.g. no accelerator silo), or what it recovered from last.</summary>
    [Id(18)] public string? Detail { get; init; }

    [Id(19)] public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The silo whose coordinator answered (it runs the job while the job runs).</summary>
    [Id(20)] public string? Coordinator { get; init; }

    /// <summary>Recoveries so far: lost tiles re-created, or the job resumed after its coordinator was lost.</summary>
    [Id(21)] public int Recoveries { get; init; }

    /// <summary>Seconds spent writing checkpoints, over all runs of the job.</summary>
    [Id(22)] public double CheckpointSeconds { get; init; }

    public bool IsFinished => State is JobState.Completed or JobState.Failed or JobState.Cancelled;
}
