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

/// <summary>Options every verb takes.</summary>
internal static class GlobalOptions
{
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "Log more (information level) and print the stack trace of an unexpected error.",
        Recursive = true,
    };
}

/// <summary>Parses, reports invalid input as exit code 2 with the option named, and turns anything unexpected into
/// exit code 1 with one printable line on stderr (the stack trace only with --verbose). stdout carries results only.</summary>
internal static class CommandLineHost
{
    public static async Task<int> RunAsync(RootCommand root, string[] args, TextWriter? error = null)
    {
        error ??= Console.Error;
        if (!root.Options.Contains(GlobalOptions.Verbose)) root.Options.Add(GlobalOptions.Verbose);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            var help = $"see 'odiff {(parsed.CommandResult.Command == root ? "" : CommandPath(parsed) + " ")}--help'";
            // The first error only: the rest usually follow from it ("--colour red" is an unknown option and a stray "red").
            error.WriteLine($"error: {CliText.Printable(Explain(parsed, args, parsed.Errors[0].Message))} ({help})");
            return ExitCodes.InvalidInput;
        }
        var verbose = parsed.GetValue(GlobalOptions.Verbose);
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (InvalidJobException e)
        {
            foreach (var problem in e.Errors) error.WriteLine($"error: {FieldPrefix(problem.Field)}{CliText.Printable(problem.Message)}");
            return ExitCodes.InvalidInput;
        }
        catch (Exception e) when (e is Diffusion.StableDiffusion.ModelFormatException or InvalidImageException)
        {
            error.WriteLine($"error: {CliText.Printable(e.Message)}");
            return ExitCodes.InvalidInput;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("cancelled");
            return ExitCodes.Failure;
        }
        catch (Exception e)
        {
            error.WriteLine($"error: {CliText.FirstLine(e.Message)}");
            if (verbose) error.WriteLine(e.ToString());
            return ExitCodes.Failure;
        }
    }

    /// <summary>A value after a switch (<c>--tileable maybe</c>) is reported by the parser as an unknown argument; name the switch.</summary>
    private static string Explain(ParseResult parsed, string[] args, string message)
    {
        foreach (var token in parsed.UnmatchedTokens)
        {
            var at = Array.IndexOf(args, token);
            if (at < 1 || !message.Contains($"'{token}'", StringComparison.Ordinal)) continue;
            if (parsed.CommandResult.Command.Options.FirstOrDefault(o => o.Name == args[at - 1] || o.Aliases.Contains(args[at - 1])) is Option<bool> flag)
                return $"{flag.Name}: is a switch and takes no value, got '{token}'";
        }
        return message;
    }

    /// <summary>"--out: " for an option, "FOLDER: " for an argument (upper case), nothing for the whole request.</summary>
    private static string FieldPrefix(string field) => field switch
    {
        "request" or "" => "",
        _ when field.All(c => !char.IsLetter(c) || char.IsUpper(c)) => $"{field}: ",
        _ => $"--{field}: ",
    };

    private static string CommandPath(ParseResult parsed)
    {
        var names = new List<string>();
        for (var result = parsed.CommandResult; result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
            names.Insert(0, result.Command.Name);
        return string.Join(" ", names);
    }
}
