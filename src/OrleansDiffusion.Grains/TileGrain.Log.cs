using Microsoft.Extensions.Logging;

namespace OrleansDiffusion.Grains;

public sealed partial class TileGrain
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Tile {Tile} placed on {Silo}/{Device}, starting at step {Step}")]
    private static partial void LogInitialized(ILogger logger, string tile, string silo, string device, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tile {Tile} could not build its state")]
    private static partial void LogBuildFailed(ILogger logger, Exception exception, string tile);
}
