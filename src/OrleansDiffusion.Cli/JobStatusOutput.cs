using System.Globalization;
using System.Text.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.Cli;

/// <summary>How the cluster verbs show jobs: progress on stderr, one final line (text or JSON) on stdout.</summary>
internal static class JobStatusOutput
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Watches <paramref name="jobId"/> to its end, showing progress on stderr: a live bar in a terminal,
    /// one line per new status when stderr is redirected. Returns the finished status.</summary>
    public static Task<JobStatus> WatchAsync(DiffusionClient client, string jobId, CancellationToken cancellationToken) =>
        ProgressDisplay.RunAsync(jobId, async report =>
        {
            JobStatus? last = null;
            await foreach (var status in client.WatchAsync(jobId, cancellationToken))
            {
                report(status.Step, status.Spec.Steps, ProgressLine(status));
                last = status;
            }
            return last!;
        });

    public static string ProgressLine(JobStatus status) =>
        $"{status.JobId}: {State(status)} · step {status.Step}/{status.Spec.Steps} · {status.Tiles} tiles · {status.ElapsedSeconds:F1} s" +
        (status.Step == 0 ? "" : $" (last step: denoise {status.LastStepDenoiseSeconds:F2} s, sync {status.LastStepSyncSeconds:F3} s)");

    /// <summary>One human line about a job's end (or its current state).</summary>
    public static string Summary(JobStatus status) => status.State switch
    {
        JobState.Completed =>
            $"{status.JobId} completed: {status.Spec.Width}×{status.Spec.Height}, {status.Tiles} tiles, {status.Spec.Steps} steps, " +
            $"{Seconds(status):F1} s, seam score {status.SeamScore:F3}, {status.OutputBytes} bytes at {status.OutputPath}",
        JobState.Failed => $"{status.JobId} failed at step {status.Step}/{status.Spec.Steps}: {status.Error}",
        JobState.Cancelled => $"{status.JobId} cancelled at step {status.Step}/{status.Spec.Steps}",
        _ => $"{status.JobId} {State(status)} at step {status.Step}/{status.Spec.Steps}",
    };

    /// <summary>The job as one JSON object (snake_case keys).</summary>
    public static string ToJson(JobStatus status) => JsonSerializer.Serialize(Describe(status), Json);

    public static string ToJson(IEnumerable<JobStatus> statuses) => JsonSerializer.Serialize(statuses.Select(Describe), Json);

    /// <summary>A plain table for <c>odiff jobs</c>.</summary>
    public static string Table(IReadOnlyList<JobStatus> statuses)
    {
        string[] header = ["JOB", "STATE", "STEP", "SIZE", "TILES", "SECONDS", "CREATED (UTC)"];
        var rows = statuses.Select(s => new[]
        {
            s.JobId, State(s), $"{s.Step}/{s.Spec.Steps}", $"{s.Spec.Width}x{s.Spec.Height}", s.Tiles.ToString(CultureInfo.InvariantCulture),
            Seconds(s).ToString("F1", CultureInfo.InvariantCulture), s.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        }).Prepend(header).ToList();
        var widths = Enumerable.Range(0, header.Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        return string.Join(Environment.NewLine, rows.Select(r => string.Join("  ", r.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()));
    }

    public static string State(JobStatus status) => status.State.ToString().ToLowerInvariant();

    private static double Seconds(JobStatus status) => status.Statistics?.Seconds ?? status.ElapsedSeconds;

    private static StatusJson Describe(JobStatus s) => new(
        s.JobId, State(s), s.Step, s.Spec.Steps, s.Spec.Width, s.Spec.Height, s.Tiles, s.Statistics?.Silos,
        s.Spec.Sync.ToString().ToLowerInvariant(), s.Spec.Seed, s.Spec.Prompt, s.CreatedAt, Math.Round(Seconds(s), 3),
        s.Statistics is { } t ? Math.Round(t.DenoiseSeconds, 3) : null, s.Statistics is { } u ? Math.Round(u.SyncSeconds, 3) : null,
        s.Statistics?.BytesPerStep, s.Statistics?.ForwardCallsPerStep, s.Statistics?.BytesPerStepBound,
        s.Statistics is { } d ? Math.Round(d.DecodeSeconds, 3) : null, s.Statistics?.BandBytesPerStep,
        s.Statistics is { } c ? Math.Round(c.StepCallsPerStep, 3) : null, s.State == JobState.Completed ? Math.Round(s.SeamScore, 4) : null,
        s.OutputPath, s.OutputBytes, s.Error);

    private sealed record StatusJson(
        string JobId, string State, int Step, int Steps, int Width, int Height, int Tiles, int? Silos, string Sync, long Seed,
        string Prompt, DateTimeOffset CreatedAt, double Seconds, double? DenoiseSeconds, double? SyncSeconds, long? BytesPerStep,
        double? ForwardCallsPerStep, long? BytesPerStepBound, double? DecodeSeconds, long? BandBytesPerStep,
        double? StepCallsPerStep, double? SeamScore, string? Output, long OutputBytes, string? Error);
}
