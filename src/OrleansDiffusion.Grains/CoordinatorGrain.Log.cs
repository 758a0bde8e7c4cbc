using Microsoft.Extensions.Logging;
using Orleans;

namespace OrleansDiffusion.Grains;

public sealed partial class CoordinatorGrain
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} submitted: {Width}x{Height}, {Tiles} tiles, {Steps} steps")]
    private static partial void LogSubmitted(ILogger logger, string jobId, int width, int height, int tiles, int steps);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} resumes at epoch {Epoch} from its checkpoint after step {Step}: its coordinator was lost")]
    private static partial void LogResuming(ILogger logger, string jobId, int epoch, int step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} hands off ({Reason}): it resumes on another coordinator from its checkpoint")]
    private static partial void LogHandingOff(ILogger logger, string jobId, DeactivationReasonCode reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} checkpoint after step {Step}: {Bytes} bytes in {Seconds:0.000} s")]
    private static partial void LogCheckpoint(ILogger logger, string jobId, int step, long bytes, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: checkpoint after step {Step} is unusable; starting over")]
    private static partial void LogCheckpointUnusable(ILogger logger, Exception exception, string jobId, int step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed in {Seconds:0.0} s ({Bytes} bytes)")]
    private static partial void LogCompleted(ILogger logger, string jobId, double seconds, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} cancelled")]
    private static partial void LogCancelled(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: a newer run owns the job; this stale coordinator stops")]
    private static partial void LogFenced(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: registering its resume reminder failed (attempt {Attempt}); retrying")]
    private static partial void LogReminderRetry(ILogger logger, Exception exception, string jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its resume reminder could not be removed now; its next tick removes it")]
    private static partial void LogReminderNotRemoved(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} failed")]
    private static partial void LogJobFailed(ILogger logger, Exception exception, string jobId);
}
