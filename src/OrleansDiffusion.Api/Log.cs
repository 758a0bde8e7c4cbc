using Microsoft.Extensions.Logging;

namespace OrleansDiffusion.Api;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "No API keys file is configured (OrleansDiffusion:ApiKeysFile): the HTTP API is open to anyone who can reach it")]
    public static partial void ApiOpen(ILogger logger);

    [LoggerMessage(2, LogLevel.Information, "Loaded {Count} API keys from {Path}")]
    public static partial void KeysLoaded(ILogger logger, int count, string path);

    [LoggerMessage(3, LogLevel.Information, "Job {JobId} submitted over HTTP ({Width}x{Height}, {Steps} steps)")]
    public static partial void Submitted(ILogger logger, string jobId, int width, int height, int steps);

    [LoggerMessage(4, LogLevel.Warning, "Job refused: {Reason}")]
    public static partial void Busy(ILogger logger, string reason);

    [LoggerMessage(5, LogLevel.Information, "Deep Zoom pyramid of job {JobId} ({Width}x{Height}, {Levels} levels) built in {Milliseconds} ms")]
    public static partial void PyramidBuilt(ILogger logger, string jobId, int width, int height, int levels, long milliseconds);

    [LoggerMessage(6, LogLevel.Warning, "Refused a request to {Path}: no valid API key")]
    public static partial void Unauthorized(ILogger logger, string path);
}
