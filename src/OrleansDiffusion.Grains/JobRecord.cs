using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains;

/// <summary>A job's durable record, written only by the job's own coordinator grain (grain storage: Redis in
/// production, memory on one machine). Everything a resumed coordinator needs; live progress is not stored.</summary>
[GenerateSerializer, Alias("odiff.JobRecord")]
public sealed record JobRecord
{
    [Id(0)] public JobSpec? Spec { get; init; }
    [Id(1)] public JobState State { get; init; }

    /// <summary>Runs so far: each start or resume takes the next epoch; calls of older epochs are refused.</summary>
    [Id(2)] public int Epoch { get; init; }

    /// <summary>Steps the latest checkpoint holds (0: none).</summary>
    [Id(3)] public int CheckpointStep { get; init; }

    /// <summary>Recoveries so far (tiles re-created, coordinator resumed), against the job's retry budget.</summary>
    [Id(4)] public int Recoveries { get; init; }

    [Id(5)] public string? Error { get; init; }
    [Id(6)] public DateTimeOffset CreatedAt { get; init; }
    [Id(7)] public DateTimeOffset? StartedAt { get; init; }
    [Id(8)] public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The PNG's file name in the output store (derived from the job id on the silo, never from a client).</summary>
    [Id(9)] public string? OutputFile { get; init; }

    [Id(10)] public long OutputBytes { get; init; }
    [Id(11)] public JobStatistics? Statistics { get; init; }
    [Id(12)] public double SeamScore { get; init; }
    [Id(13)] public int Tiles { get; init; }
    [Id(14)] public IReadOnlyList<string>? TilePlacement { get; init; }

    /// <summary>What the job is waiting for, or what it recovered from last.</summary>
    [Id(15)] public string? Detail { get; init; }

    /// <summary>Seconds spent on checkpoints, over all runs.</summary>
    [Id(16)] public double CheckpointSeconds { get; init; }

    public bool IsFinished => State is JobState.Completed or JobState.Failed or JobState.Cancelled;
}
