using System.Globalization;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>The PNG <c>parameters</c> text: the prompt, then "Key: value" pairs, as image tools in this field write it.</summary>
public static class GenerationParameters
{
    public static string Format(JobSpec spec, string model)
    {
        var lines = new List<string> { spec.Prompt };
        if (spec.NegativePrompt.Length > 0) lines.Add($"Negative prompt: {spec.NegativePrompt}");
        var pairs = new List<string>
        {
            $"Steps: {spec.Steps}",
            $"Sampler: {spec.Scheduler.ToString().ToLowerInvariant()}{(spec.Karras ? " karras" : "")}",
            $"Seed: {spec.Seed}",
            $"Size: {spec.Width}x{spec.Height}",
            $"Model: {model}",
            $"Sync: {spec.Sync.ToString().ToLowerInvariant()}",
            $"Tile: {spec.Tile}",
            $"Overlap: {spec.Overlap}",
        };
        if (spec.Eta > 0) pairs.Add(string.Create(CultureInfo.InvariantCulture, $"Eta: {spec.Eta}"));
        if (spec.Tileable) pairs.Add("Tileable: true");
        lines.Add(string.Join(", ", pairs));
        return string.Join("\n", lines);
    }
}
