using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Client.Http;

/// <summary>One tile of a job as the HTTP API shows it: where it runs, its state and its last step time.</summary>
public sealed record TileJson(int Index, int? Row, int? Column, string State, string? Silo, string? Device, double? LastStepSeconds);

/// <summary>
/// A job's status as the HTTP API sends it. The first fields are those of <c>odiff jobs --json</c> with the same
/// names (<c>job_id</c>, <c>state</c>, <c>step</c>, <c>steps</c>, ...); the rest add the spec, the per-step timings,
/// the tiles and (in events) the preview PNG.
/// </summary>
public sealed record JobStatusJson
{
    public required string JobId { get; init; }
    public required string State { get; init; }
    public int Step { get; init; }
    public int Steps { get; init; }
    public int Width { get; init; }
    public int Height { get; init; }
    public int Tiles { get; init; }
    public int? Silos { get; init; }
    public string Sync { get; init; } = "";
    public long Seed { get; init; }
    public string Prompt { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public double Seconds { get; init; }
    public double? DenoiseSeconds { get; init; }
    public double? SyncSeconds { get; init; }
    public long? BytesPerStep { get; init; }
    public double? ForwardCallsPerStep { get; init; }

    /// <summary>The exchange's lower bound on <see cref="BytesPerStep"/> (0: nothing needs to move).</summary>
    public long? BytesPerStepBound { get; init; }

    /// <summary>Seconds turning the final canvas into pixels (the VAE decode; 0 in pixel space).</summary>
    public double? DecodeSeconds { get; init; }

    /// <summary>Bytes per step between full exchanges, when only bands travel (0: every step moved whole windows).</summary>
    public long? BandBytesPerStep { get; init; }

    /// <summary>Messages the coordinator sent per step to run the tiles' steps (one per worker silo once tiles are placed).</summary>
    public double? StepCallsPerStep { get; init; }
    public double? SeamScore { get; init; }
    public string? Output { get; init; }
    public long OutputBytes { get; init; }
    public string? Error { get; init; }

    public string? Detail { get; init; }
    public int Epoch { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public double LastStepDenoiseSeconds { get; init; }
    public double LastStepSyncSeconds { get; init; }
    public IReadOnlyList<TileJson>? TileDetails { get; init; }
    public required JobSpecJson Spec { get; init; }

    /// <summary>A small PNG of the canvas after the latest step (base64 in JSON); only in events.</summary>
    public byte[]? Preview { get; init; }

    /// <summary>The status as JSON; <paramref name="withPreview"/> adds the preview PNG.</summary>
    public static JobStatusJson From(JobStatus s, bool withPreview = false)
    {
        ArgumentNullException.ThrowIfNull(s);
        var seconds = s.Statistics?.Seconds ?? s.ElapsedSeconds;
        return new()
        {
            JobId = s.JobId,
            State = JobSpecJson.Name(s.State),
            Step = s.Step,
            Steps = s.Spec.Steps,
            Width = s.Spec.Width,
            Height = s.Spec.Height,
            Tiles = s.Tiles,
            Silos = s.Statistics?.Silos,
            Sync = JobSpecJson.Name(s.Spec.Sync),
            Seed = s.Spec.Seed,
            Prompt = s.Spec.Prompt,
            CreatedAt = s.CreatedAt,
            Seconds = Math.Round(seconds, 3),
            DenoiseSeconds = s.Statistics is { } t ? Math.Round(t.DenoiseSeconds, 3) : null,
            SyncSeconds = s.Statistics is { } u ? Math.Round(u.SyncSeconds, 3) : null,
            BytesPerStep = s.Statistics?.BytesPerStep,
            ForwardCallsPerStep = s.Statistics?.ForwardCallsPerStep,
            BytesPerStepBound = s.Statistics?.BytesPerStepBound,
            DecodeSeconds = s.Statistics is { } d ? Math.Round(d.DecodeSeconds, 3) : null,
            BandBytesPerStep = s.Statistics?.BandBytesPerStep,
            StepCallsPerStep = s.Statistics is { } c ? Math.Round(c.StepCallsPerStep, 3) : null,
            SeamScore = s.State == JobState.Completed ? Math.Round(s.SeamScore, 4) : null,
            Output = s.OutputPath,
            OutputBytes = s.OutputBytes,
            Error = s.Error,
            Detail = s.Detail,
            Epoch = s.Epoch,
            FinishedAt = s.FinishedAt,
            LastStepDenoiseSeconds = s.LastStepDenoiseSeconds,
            LastStepSyncSeconds = s.LastStepSyncSeconds,
            TileDetails = TilesOf(s),
            Spec = JobSpecJson.From(s.Spec, withExemplarBytes: false),
            Preview = withPreview ? s.Preview : null,
        };
    }

    /// <summary>Back to a <see cref="JobStatus"/> (statistics are not carried; the spec has no exemplar bytes).</summary>
    public JobStatus ToStatus() => new()
    {
        JobId = JobId,
        State = Enum.TryParse<JobState>(State, ignoreCase: true, out var state) ? state : JobState.Queued,
        Spec = Spec.ToSpec(),
        Step = Step,
        Tiles = Tiles,
        CreatedAt = CreatedAt,
        ElapsedSeconds = Seconds,
        OutputPath = Output,
        OutputBytes = OutputBytes,
        Error = Error,
        SeamScore = SeamScore ?? 0,
        Preview = Preview,
        LastStepDenoiseSeconds = LastStepDenoiseSeconds,
        LastStepSyncSeconds = LastStepSyncSeconds,
        TileDetails = TileDetails?.Select(t => new TileDetail(
            t.Index, t.Row ?? -1, t.Column ?? -1, Enum.TryParse<TileState>(t.State, ignoreCase: true, out var ts) ? ts : TileState.Pending,
            t.Silo, t.Device, t.LastStepSeconds ?? 0)).ToList(),
        Epoch = Epoch,
        Detail = Detail,
        FinishedAt = FinishedAt,
    };

    /// <summary>The coordinator's tile details when it sends them; otherwise each placed tile's silo and device, its
    /// state inferred from the job's (done once the job finished, denoising while it runs) and no step time.</summary>
    private static List<TileJson>? TilesOf(JobStatus s)
    {
        if (s.TileDetails is { } details)
            return details.Select(t => new TileJson(t.Index, t.Row, t.Column, JobSpecJson.Name(t.State), t.Silo, t.Device, t.LastStepSeconds)).ToList();
        if (s.TilePlacement is not { } placement) return null;
        var state = s.State switch
        {
            JobState.Completed => TileState.Done,
            JobState.Running => TileState.Denoising,
            _ => TileState.Pending,
        };
        return placement.Select((p, i) =>
        {
            var slash = p.IndexOf('/', StringComparison.Ordinal);
            return new TileJson(i, null, null, JobSpecJson.Name(state), slash < 0 ? p : p[..slash], slash < 0 ? null : p[(slash + 1)..], null);
        }).ToList();
    }
}
