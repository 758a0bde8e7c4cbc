using System.CommandLine;

namespace OrleansDiffusion.Cli;

internal static partial class BenchCommands
{
    private static Command CreateScaling() => new("scaling", "Strong scaling over real silo processes (not yet).");
}
