using System.Text.RegularExpressions;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// The chart's templates read as text (helm is not available to render them): one entry per YAML document
/// with its kind, its component (from the labels include) and the literal ports and probes it declares.
/// </summary>
internal static partial class HelmChart
{
    public static string Dir => Repo.PathOf("helm", "orleans-diffusion");

    public static string TemplatesDir => Path.Combine(Dir, "templates");

    public static IEnumerable<(string File, string Text)> TemplateFiles =>
        Directory.GetFiles(TemplatesDir).Order().Select(f => (Path.GetFileName(f), File.ReadAllText(f)));

    public static IReadOnlyList<TemplateDocument> Documents() =>
        TemplateFiles.Where(f => f.File.EndsWith(".yaml", StringComparison.Ordinal))
            .SelectMany(f => DocumentSeparator().Split(f.Text).Select(text => (f.File, Text: text)))
            .Select(d => (d.File, d.Text, Kind: KindLine().Match(d.Text)))
            .Where(d => d.Kind.Success)
            .Select(d => new TemplateDocument(d.File, d.Kind.Groups[1].Value, Component(d.Text), d.Text))
            .ToList();

    private static string Component(string text)
    {
        var components = ComponentArgument().Matches(text).Select(m => m.Groups[1].Value).Distinct().ToList();
        return components.Count == 1 ? components[0] : throw new FormatException($"one component expected, found [{string.Join(", ", components)}] in:\n{text}");
    }

    [GeneratedRegex(@"^---\s*$", RegexOptions.Multiline)]
    private static partial Regex DocumentSeparator();

    [GeneratedRegex(@"^kind:\s*(\S+)", RegexOptions.Multiline)]
    private static partial Regex KindLine();

    [GeneratedRegex(@"""component"" ""([a-z-]+)""")]
    private static partial Regex ComponentArgument();
}

internal sealed partial record TemplateDocument(string File, string Kind, string Component, string Text)
{
    public Dictionary<string, int> ContainerPorts => ContainerPort().Matches(Text)
        .ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value));

    public Dictionary<string, (string Path, string Port)> HttpProbes => HttpProbe().Matches(Text)
        .ToDictionary(m => m.Groups[1].Value, m => (m.Groups[2].Value, m.Groups[3].Value));

    public Dictionary<string, (int Port, string TargetPort)> ServicePorts => ServicePort().Matches(Text)
        .ToDictionary(m => m.Groups[1].Value, m => (int.Parse(m.Groups[2].Value), m.Groups[3].Value));

    public IReadOnlySet<string> EnvNames => EnvName().Matches(Text).Select(m => m.Groups[1].Value).ToHashSet();

    public int? Int(string key) =>
        Regex.Match(Text, $@"^\s*{Regex.Escape(key)}:\s*(\d+)\s*$", RegexOptions.Multiline) is { Success: true } m
            ? int.Parse(m.Groups[1].Value) : null;

    /// <summary>The literal items of the first <c>args:</c> list.</summary>
    public IReadOnlyList<string> Args
    {
        get
        {
            var lines = Text.Split('\n');
            var start = Array.FindIndex(lines, l => l.Trim() == "args:");
            return start < 0 ? [] : lines.Skip(start + 1).TakeWhile(l => l.TrimStart().StartsWith("- ", StringComparison.Ordinal))
                .Select(l => l.Trim()[2..].Trim('"')).ToList();
        }
    }

    [GeneratedRegex(@"-\s+name:\s*(\S+)\s*\n\s*containerPort:\s*(\d+)")]
    private static partial Regex ContainerPort();

    [GeneratedRegex(@"(startupProbe|readinessProbe|livenessProbe):\s*\n\s*httpGet:\s*\n\s*path:\s*(\S+)\s*\n\s*port:\s*(\S+)")]
    private static partial Regex HttpProbe();

    [GeneratedRegex(@"-\s+name:\s*(\S+)\s*\n\s*port:\s*(\d+)\s*\n\s*targetPort:\s*(\S+)")]
    private static partial Regex ServicePort();

    [GeneratedRegex(@"(?:-\s+name:\s*|^\s*)((?:OrleansDiffusion__|POD_)[A-Za-z_]+)\b", RegexOptions.Multiline)]
    private static partial Regex EnvName();
}
