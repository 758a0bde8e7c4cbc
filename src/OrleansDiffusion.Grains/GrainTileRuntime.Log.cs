using Microsoft.Extensions.Logging;

namespace OrleansDiffusion.Grains;

internal sealed partial class GrainTileRuntime
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: {Count} tile(s) lost before step {Step}; re-creating them on the surviving accelerator silos from their states before step {StatesStep}")]
    private static partial void LogTilesLost(ILogger logger, Exception cause, string jobId, int count, int step, int statesStep);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: waiting for an accelerator silo for {Count} tile(s): {Reason}")]
    private static partial void LogWaitingForWorkers(ILogger logger, string jobId, int count, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: the tile host on {Host} did not answer for {Count} tile(s) ({Reason}); calling them directly")]
    private static partial void LogHostUnreachable(ILogger logger, string jobId, Orleans.Runtime.SiloAddress host, int count, string reason);
}
