using OrleansDiffusion.Abstractions;
namespace OrleansDiffusion.Cli.Tests;

/// <summary>Every option's invalid values: exit code 2, a message naming the option and the rule, nothing written.</summary>
public class BadInputTests
{
    public static TheoryData<string[], string> Cases() => new()
    {
        { ["--prompt", new string('a', 5000)], "--prompt: must be at most 4096 characters" },
        { ["--negative-prompt", new string('a', 5000)], "--negative-prompt: must be at most 4096 characters" },
        { ["--exemplar", "missing.png"], "--exemplar: file 'missing.png' does not exist" },
        { ["--exemplar", "garbage.png"], "garbage.png" },
        { ["--model", "some-folder"], "--model:" },
        { ["--width", "100"], "--width: must be a multiple of 8" },
        { ["--width", "wide"], "--width" },
        { ["--height", "0"], "--height: must be a multiple of 8" },
        { ["--width", "65536", "--height", "65536"], "--width: width × height" },
        { ["--steps", "0"], $"--steps: must be between 1 and {JobSpecValidator.MaxSteps}" },
        { ["--steps", $"{JobSpecValidator.MaxSteps + 1}"], $"--steps: must be between 1 and {JobSpecValidator.MaxSteps}" },
        { ["--seed", "-5"], "--seed: must be zero or positive" },
        { ["--tile", "20"], "--tile: must be a multiple of 8 and at least 32" },
        { ["--overlap", "128", "--tile", "128"], "--overlap: must be smaller than the tile size" },
        { ["--overlap", "-1"], "--overlap: must be zero or positive" },
        { ["--sync", "halo", "--overlap", "16"], "--overlap: must be 0 with --sync halo" },
        { ["--sync", "blend"], "--sync" },
        { ["--scheduler", "pndm"], "--scheduler" },
        { ["--eta", "2"], "--eta: must be between 0 and 1" },
        { ["--eta", "0.5", "--scheduler", "euler"], "--eta: only applies to --scheduler ddim" },
        { ["--karras"], "--karras: only applies to --scheduler euler" },
        { ["--cfg", "-1"], "--cfg: must be between 0 and 50" },
        { ["--silos", "0"], "--silos:" },
        { ["--out", "image.jpg"], "--out: must be a path ending in .png" },
        { ["--out", "folder.png"], "--out: 'folder.png' is a directory" },
        { ["--bit-depth", "12"], "--bit-depth: must be 8 or 16" },
        { ["--tileable", "maybe"], "maybe" },
        { ["--colour", "red"], "--colour" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Invalid_input_exits_with_2_names_the_field_and_writes_nothing(string[] options, string expected)
    {
        using var directory = new TempDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory.Path, "garbage.png"), "not a png");
        Directory.CreateDirectory(Path.Combine(directory.Path, "folder.png"));
        var before = directory.Files();
        var error = new StringWriter();
        // Small valid defaults for whatever the case does not set itself.
        var defaults = new[] { ("--width", "64"), ("--height", "64"), ("--steps", "2"), ("--out", Path.Combine(directory.Path, "result.png")) }
            .Where(d => !options.Contains(d.Item1)).SelectMany(d => new[] { d.Item1, d.Item2 });
        var args = new[] { "generate" }.Concat(defaults)
            .Concat(options.Select(o => o is "missing.png" or "garbage.png" or "folder.png" ? Path.Combine(directory.Path, o) : o))
            .ToArray();
        var exitCode = await CommandLineHost.RunAsync(Program.CreateRoot(), args, error);

        Assert.Equal(2, exitCode);
        Assert.Contains(expected.Replace("'missing.png'", $"'{Path.Combine(directory.Path, "missing.png")}'").Replace("'folder.png'", $"'{Path.Combine(directory.Path, "folder.png")}'"), error.ToString());
        Assert.Equal(before, directory.Files());
    }
}
