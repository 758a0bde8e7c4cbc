using Microsoft.Extensions.Logging;

namespace OrleansDiffusion.Cli;

/// <summary>Logging of the embedded silos and the cluster client: stderr only (stdout is the data channel), warnings and
/// above by default, information with --verbose.</summary>
internal static class CliLogging
{
    public static Action<ILoggingBuilder> Configure(bool verbose) => logging =>
    {
        logging.ClearProviders();
        logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);
        if (verbose) return;
        // Spurious for a short-lived process: the watchdog measures its first interval from a stale timestamp (a
        // "not completed for 00:14:46" warning seconds after start), and the silo recommends server GC at every start.
        logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
    };

    /// <summary>As <see cref="Configure"/>, for a cluster client: failed connection attempts and the host's start failure
    /// are not logged without --verbose, since the verb reports the unreachable cluster in one line.</summary>
    public static Action<ILoggingBuilder> ForClient(bool verbose) => logging =>
    {
        Configure(verbose)(logging);
        if (verbose) return;
        logging.AddFilter("Orleans.Runtime.Messaging", LogLevel.Error);
        logging.AddFilter("Orleans.Messaging", LogLevel.Error);
        logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
    };
}
