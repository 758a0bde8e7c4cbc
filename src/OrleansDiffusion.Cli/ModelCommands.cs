using System.CommandLine;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.StableDiffusion;

namespace OrleansDiffusion.Cli;

/// <summary><c>odiff model init</c> (write a tiny random diffusers folder) and <c>odiff model inspect</c> (what a folder holds, whether it loads).</summary>
internal static class ModelCommands
{
    private static readonly Option<string> Preset = new("--preset") { Description = "Configuration to write: tiny (a few hundred thousand random parameters, SD 1.x architecture).", DefaultValueFactory = _ => "tiny" };
    private static readonly Option<string> Out = new("--out") { Description = "Folder to create (must not exist or be empty).", Required = true };
    private static readonly Option<long> Seed = CliOption.Long("--seed", "Seed of the random weights.", 0);
    private static readonly Argument<string> Folder = new("FOLDER") { Description = "A diffusers model folder." };
    private static readonly Option<bool> Keys = new("--keys") { Description = "List every parameter with its shape and stored dtype." };

    public static Command Create()
    {
        var model = new Command("model", "Create or inspect diffusers model folders.");
        var init = new Command("init", "Write a complete diffusers-format folder with a tiny random configuration.");
        foreach (var option in new Option[] { Preset, Out, Seed }) init.Options.Add(option);
        init.SetAction(Init);
        var inspect = new Command("inspect", "Print a model folder's components, parameter counts and dtypes, and whether it loads.");
        inspect.Arguments.Add(Folder);
        inspect.Options.Add(Keys);
        inspect.SetAction(Inspect);
        model.Subcommands.Add(init);
        model.Subcommands.Add(inspect);
        return model;
    }

    private static int Init(ParseResult parsed)
    {
        var preset = parsed.GetValue(Preset);
        var folder = parsed.GetValue(Out)!;
        var errors = new List<ValidationError>();
        if (preset != "tiny") errors.Add(new("preset", $"must be tiny, got '{preset}'"));
        if (OutputPath.CheckNewFolder("out", folder) is { } output) errors.Add(output);
        if (errors.Count > 0) throw new InvalidJobException(errors);

        var seed = parsed.GetValue(Seed);
        AtomicFile.WriteFolder(folder, temporary => TinyModel.Write(temporary, seed));
        var written = DiffusersFolder.Open(folder);
        Console.Out.WriteLine($"wrote {folder} (tiny: {string.Join(", ", written.Weights.Select(w => $"{w.Name} {w.Parameters:N0}"))} parameters)");
        return ExitCodes.Success;
    }

    private static int Inspect(ParseResult parsed)
    {
        var path = parsed.GetValue(Folder)!;
        DiffusersFolder folder;
        try
        {
            folder = DiffusersFolder.Open(path);
        }
        catch (ModelFormatException e)
        {
            Console.Error.WriteLine($"error: FOLDER: {CliText.Printable(e.Message)} (loads: no)");
            return ExitCodes.InvalidInput;
        }
        var output = Console.Out;
        output.WriteLine($"{path}: {folder.Index.ClassName}");
        foreach (var weights in folder.Weights)
            output.WriteLine($"  {weights.Name,-13} {folder.Index.Components[weights.Name],-22} {weights.Parameters,13:N0} parameters  {string.Join("/", weights.DTypes)}  {Path.GetRelativePath(path, weights.Path)}");
        output.WriteLine($"  {"tokenizer",-13} {folder.Index.Components["tokenizer"],-22} {folder.TextEncoder.VocabSize,13:N0} tokens      pad {folder.Tokenizer.PadId}, length {folder.Tokenizer.Length}");
        output.WriteLine($"  {"scheduler",-13} {folder.SchedulerClass,-22} {folder.Scheduler.BetaSchedule} β {folder.Scheduler.BetaStart}..{folder.Scheduler.BetaEnd}, {folder.Scheduler.Prediction}, {folder.Scheduler.TimestepSpacing ?? "class default"} spacing");
        output.WriteLine($"  latent: {folder.Vae.LatentChannels} channels at 1/{folder.LatentScale}, VAE scaling factor {folder.Vae.ScalingFactor}");
        output.WriteLine($"  total: {folder.Weights.Sum(w => w.Parameters):N0} parameters");
        if (parsed.GetValue(Keys))
            foreach (var weights in folder.Weights)
                foreach (var entry in weights.File.Entries.Values.OrderBy(e => e.Name, StringComparer.Ordinal))
                    output.WriteLine($"{weights.Name}/{entry.Name} [{string.Join(", ", entry.Shape)}] {entry.DType}");
        using (folder.Load()) output.WriteLine("loads: yes");
        return ExitCodes.Success;
    }
}
