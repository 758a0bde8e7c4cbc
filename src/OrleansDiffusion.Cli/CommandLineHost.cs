using System.CommandLine;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli;

/// <summary>Exit codes of the contract (DESIGN §9): 0 success, 2 invalid input, 1 anything else.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int InvalidInput = 2;
}

/// <summary>Parses, reports invalid input as exit code 2 with the field named, and maps failures to exit codes.</summary>
internal static class CommandLineHost
{
    public static async Task<int> RunAsync(RootCommand root, string[] args, TextWriter? error = null)
    {
        error ??= Console.Error;
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var problem in parsed.Errors) error.WriteLine($"error: {problem.Message}");
            error.WriteLine($"Run 'odiff {(args.Length > 0 ? args[0] + " " : "")}--help' for the options.");
            return ExitCodes.InvalidInput;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (InvalidJobException e)
        {
            foreach (var problem in e.Errors) error.WriteLine($"error: --{problem.Field}: {problem.Message}");
            return ExitCodes.InvalidInput;
        }
        catch (OrleansDiffusion.Diffusion.StableDiffusion.ModelFormatException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.InvalidInput;
        }
        catch (InvalidImageException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.InvalidInput;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("cancelled");
            return ExitCodes.Failure;
        }
    }
}
