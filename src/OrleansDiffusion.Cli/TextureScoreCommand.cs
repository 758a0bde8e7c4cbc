using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli;

/// <summary><c>odiff texture-score OUT.png EXEMPLAR.png</c>: bidirectional patch similarity of an image against its exemplar.</summary>
internal static class TextureScoreCommand
{
    private static readonly Argument<string> Output = new("out") { Description = "The generated PNG." };
    private static readonly Argument<string> ExemplarPath = new("exemplar") { Description = "The exemplar PNG it should look like." };
    private static readonly Option<bool> Json = new("--json") { Description = "Print one JSON line instead of a table." };

    public static Command Create()
    {
        var command = new Command("texture-score",
            "Coherence and completeness (0 = as good as a copy, 1 = as bad as a flat image of the exemplar's mean colour) at scales 1, 1/2, 1/4.");
        command.Arguments.Add(Output);
        command.Arguments.Add(ExemplarPath);
        command.Options.Add(Json);
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parsed)
    {
        if (!TryLoad(parsed.GetValue(Output)!, "out", out var output)) return ExitCodes.InvalidInput;
        using var image = output;
        if (!TryLoad(parsed.GetValue(ExemplarPath)!, "exemplar", out var exemplar)) return ExitCodes.InvalidInput;
        using var sample = exemplar;
        var score = TextureScore.Compute(image, sample);
        Console.Out.WriteLine(parsed.GetValue(Json) ? FormatJson(score) : FormatTable(score));
        return ExitCodes.Success;
    }

    private static bool TryLoad(string path, string argument, out TorchSharp.torch.Tensor image)
    {
        image = null!;
        string? problem = null;
        try
        {
            image = ImageLoader.LoadRgb(path);
            if (image.shape[1] < TextureScore.MinimumSide || image.shape[2] < TextureScore.MinimumSide)
            {
                problem = $"must be at least {TextureScore.MinimumSide}×{TextureScore.MinimumSide} pixels, got {image.shape[2]}×{image.shape[1]}";
                image.Dispose();
            }
        }
        catch (Exception e) when (e is InvalidImageException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            problem = e.Message;
        }
        if (problem is null) return true;
        Console.Error.WriteLine($"error: {argument} ({path}): {problem}");
        return false;
    }

    /// <summary>The summary's keys, also used by <c>generate --json</c>: texture_coherence, texture_completeness and per-scale values.</summary>
    public static Dictionary<string, double> Fields(TextureScoreResult score)
    {
        var fields = new Dictionary<string, double>
        {
            ["texture_coherence"] = Math.Round(score.Coherence, 4),
            ["texture_completeness"] = Math.Round(score.Completeness, 4),
        };
        foreach (var scale in score.Scales)
        {
            var suffix = scale.Scale == 1 ? "1" : $"1_{Math.Round(1 / scale.Scale)}";
            fields[$"coherence_{suffix}"] = Math.Round(scale.Coherence, 4);
            fields[$"completeness_{suffix}"] = Math.Round(scale.Completeness, 4);
        }
        return fields;
    }

    /// <summary>The texture fields of an exemplar job's output (null for a Stable Diffusion job, or an output too large to load).</summary>
    public static Dictionary<string, double>? ScoreAgainstExemplar(OrleansDiffusion.Abstractions.JobSpec spec, string outputPath)
    {
        if (spec.Model is not null) return null;
        TorchSharp.torch.Tensor output;
        try
        {
            output = ImageLoader.LoadRgb(outputPath);
        }
        catch (InvalidImageException)
        {
            return null; // beyond the loader's size limit: the job itself succeeded
        }
        using var image = output;
        if (image.shape[1] < TextureScore.MinimumSide || image.shape[2] < TextureScore.MinimumSide) return null;
        var exemplar = Diffusion.Engine.JobComponents.LoadExemplar(spec);
        using var sample = exemplar.Image;
        return Fields(TextureScore.Compute(image, sample));
    }

    private static string FormatJson(TextureScoreResult score) => JsonSerializer.Serialize(Fields(score));

    private static string FormatTable(TextureScoreResult score)
    {
        var lines = new List<string> { "scale  coherence  completeness" };
        foreach (var s in score.Scales)
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"1/{Math.Round(1 / s.Scale),-4} {s.Coherence,9:F4}  {s.Completeness,12:F4}"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"mean   {score.Coherence,9:F4}  {score.Completeness,12:F4}"));
        return string.Join(Environment.NewLine, lines);
    }
}
