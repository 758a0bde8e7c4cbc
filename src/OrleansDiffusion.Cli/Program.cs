using System.CommandLine;
using OrleansDiffusion.Cli;

return await CommandLineHost.RunAsync(Program.CreateRoot(), args);

internal static partial class Program
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("odiff — ultra-high-resolution images from tiled, synchronized diffusion.");
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ModelCommands.Create());
        root.Subcommands.Add(TextureScoreCommand.Create());
        root.Subcommands.Add(BenchCommands.Create());
        foreach (var command in ClusterCommands.Create()) root.Subcommands.Add(command);
        return root;
    }
}
