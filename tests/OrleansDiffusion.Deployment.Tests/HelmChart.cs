using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// The chart rendered the way <c>helm template</c> does it (helm is not available here): values.yaml merged with
/// a values file, checked against values.schema.json, every template executed by <see cref="GoTemplate"/>, and the
/// documents parsed into typed objects by <see cref="Manifest"/>.
/// </summary>
internal static partial class HelmChart
{
    public const string ReleaseName = "odiff";
    public const string Namespace = "orleans-diffusion";

    /// <summary>The API version a cluster with the Prometheus Operator serves (for <c>.Capabilities.APIVersions.Has</c>).</summary>
    public const string PrometheusOperator = "monitoring.coreos.com/v1";

    public static string Dir => Repo.PathOf("helm", "orleans-diffusion");

    public static string TemplatesDir => Path.Combine(Dir, "templates");

    public static string ExamplesDir => Repo.PathOf("tests", "OrleansDiffusion.Deployment.Tests", "values");

    public static JsonNode DefaultValues => YamlJson.Parse(File.ReadAllText(Path.Combine(Dir, "values.yaml")))!;

    public static JsonSchema Schema => JsonSchema.FromText(File.ReadAllText(Path.Combine(Dir, "values.schema.json")));

    /// <summary>The chart's templates, parsed (defines from every file; one named template per file).</summary>
    public static GoTemplate Templates()
    {
        var templates = new GoTemplate();
        foreach (var file in Directory.GetFiles(TemplatesDir).Order(StringComparer.Ordinal))
        {
            templates.Add(TemplateName(file), File.ReadAllText(file));
        }

        return templates;
    }

    /// <summary>The values of an example file under values/ (e.g. "valid/dev.yaml") merged over values.yaml.</summary>
    public static JsonNode? Values(string? example = null, string? yaml = null)
    {
        var overrides = yaml ?? (example is null ? null : File.ReadAllText(Path.Combine(ExamplesDir, example)));
        return overrides is null ? DefaultValues : YamlJson.Merge(DefaultValues, YamlJson.Parse(overrides));
    }

    public static EvaluationResults Evaluate(JsonNode? values) =>
        Schema.Evaluate(JsonSerializer.SerializeToElement(values), new EvaluationOptions { OutputFormat = OutputFormat.List });

    public static IEnumerable<EvaluationResults> Failures(EvaluationResults results) =>
        (results.Details ?? []).Prepend(results).Where(r => !r.IsValid && r.Errors is { Count: > 0 });

    /// <summary>Renders the chart with an example values file (relative to values/) or inline values YAML.</summary>
    public static Manifest Render(string? example = null, string? yaml = null, params string[] apiVersions) =>
        Manifest.Parse(RenderText(Values(example, yaml), apiVersions));

    public static string RenderText(JsonNode? values, params string[] apiVersions)
    {
        var results = Evaluate(values);
        if (!results.IsValid)
        {
            throw new InvalidOperationException("values fail the schema: " + string.Join("; ",
                Failures(results).SelectMany(r => r.Errors!.Select(e => $"{r.InstanceLocation}: {e.Value}"))));
        }

        var chartYaml = YamlJson.Parse(File.ReadAllText(Path.Combine(Dir, "Chart.yaml")))!;
        var chart = new Dictionary<string, object?>
        {
            ["Name"] = (string)chartYaml["name"]!,
            ["Version"] = (string)chartYaml["version"]!,
            ["AppVersion"] = (string)chartYaml["appVersion"]!,
        };
        var release = new Dictionary<string, object?>
        {
            ["Name"] = ReleaseName, ["Namespace"] = Namespace, ["Service"] = "Helm", ["IsInstall"] = true, ["IsUpgrade"] = false,
        };
        var files = new Dictionary<string, object?>
        {
            ["Get"] = (Func<object?[], object?>)(a => File.ReadAllText(Path.Combine(Dir, (string)a[0]!))),
        };
        var available = apiVersions.ToHashSet();
        var capabilities = new Dictionary<string, object?>
        {
            ["APIVersions"] = new Dictionary<string, object?> { ["Has"] = (Func<object?[], object?>)(a => available.Contains((string)a[0]!)) },
        };

        var templates = Templates();
        var output = new StringBuilder();
        foreach (var file in Directory.GetFiles(TemplatesDir, "*.yaml").Order(StringComparer.Ordinal))
        {
            var name = TemplateName(file);
            var data = new Dictionary<string, object?>
            {
                ["Values"] = GoTemplate.Values.FromJson(values),
                ["Release"] = release,
                ["Chart"] = chart,
                ["Files"] = files,
                ["Capabilities"] = capabilities,
                ["Template"] = new Dictionary<string, object?> { ["Name"] = name, ["BasePath"] = $"{chart["Name"]}/templates" },
            };
            foreach (var document in DocumentSeparator().Split(templates.Execute(name, data)))
            {
                // helm drops documents that rendered empty (or to comments only).
                if (document.Split('\n').Any(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#')))
                {
                    output.Append("---\n").Append(document.Trim('\n')).Append('\n');
                }
            }
        }

        return output.ToString();
    }

    private static string TemplateName(string file) => $"orleans-diffusion/templates/{Path.GetFileName(file)}";

    [GeneratedRegex(@"^---\s*$", RegexOptions.Multiline)]
    private static partial Regex DocumentSeparator();
}
