using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using k8s;
using k8s.Models;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// The Helm chart without helm: values.yaml and example values files against values.schema.json, and the
/// templates (read as text) against the kustomize manifests, which kubectl renders for real.
/// </summary>
public class HelmChartTests
{
    private static readonly string ValuesDir = Repo.PathOf("tests", "OrleansDiffusion.Deployment.Tests", "values");

    private static JsonSchema Schema => JsonSchema.FromText(File.ReadAllText(Path.Combine(HelmChart.Dir, "values.schema.json")));

    private static JsonNode DefaultValues => YamlJson.Parse(File.ReadAllText(Path.Combine(HelmChart.Dir, "values.yaml")))!;

    public static TheoryData<string> ValidExamples => new(Directory.GetFiles(Path.Combine(ValuesDir, "valid"), "*.yaml").Select(Path.GetFileName)!);

    public static TheoryData<string> InvalidExamples => new(Directory.GetFiles(Path.Combine(ValuesDir, "invalid"), "*.yaml").Select(Path.GetFileName)!);

    [Fact]
    public void Chart_yaml_describes_a_v2_application_chart_whose_app_version_the_overlays_deploy()
    {
        var chart = YamlJson.Parse(File.ReadAllText(Path.Combine(HelmChart.Dir, "Chart.yaml")))!;
        Assert.Equal("v2", (string)chart["apiVersion"]!);
        Assert.Equal("orleans-diffusion", (string)chart["name"]!);
        Assert.Equal("application", (string)chart["type"]!);
        Assert.Matches(@"^\d+\.\d+\.\d+$", (string)chart["version"]!);
        var appVersion = (string)chart["appVersion"]!;

        foreach (var overlay in Kustomize.Overlays)
        {
            var manifest = Kustomize.Overlay(overlay);
            foreach (var deployment in new[] { manifest.Worker, manifest.Coordinator })
            {
                Assert.EndsWith($":{appVersion}", deployment.Spec.Template.Spec.Containers.Single().Image);
            }
        }
    }

    [Fact]
    public void Values_yaml_satisfies_the_schema()
    {
        AssertValid(DefaultValues, "values.yaml");
    }

    [Theory, MemberData(nameof(ValidExamples))]
    public void Valid_example_values_pass(string file)
    {
        var values = YamlJson.Merge(DefaultValues, YamlJson.Parse(File.ReadAllText(Path.Combine(ValuesDir, "valid", file))));
        AssertValid(values, file);
    }

    [Theory, MemberData(nameof(InvalidExamples))]
    public void Invalid_example_values_fail_at_the_bad_value(string file)
    {
        var text = File.ReadAllText(Path.Combine(ValuesDir, "invalid", file));
        var expected = Regex.Match(text, @"^# expect: (\S+)").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(expected), $"{file} must start with '# expect: <JSON pointer of the bad value>'");

        var results = Evaluate(YamlJson.Merge(DefaultValues, YamlJson.Parse(text)));
        Assert.False(results.IsValid, $"{file} passed the schema");
        var failed = Failures(results).Select(r => r.InstanceLocation.ToString()).ToList();
        Assert.True(failed.Any(f => f == expected || f.StartsWith(expected + "/", StringComparison.Ordinal)),
            $"{file}: expected a failure at or under {expected}, got at [{string.Join(", ", failed)}]");
    }

    [Fact]
    public void Every_schema_object_rejects_unknown_keys()
    {
        var schema = JsonNode.Parse(File.ReadAllText(Path.Combine(HelmChart.Dir, "values.schema.json")))!;
        var objects = 0;
        foreach (var (path, node) in Walk(schema, "#"))
        {
            // Helm's "global" (values a parent chart shares with its dependencies) is the one open object.
            if (path != "#/properties/global" && node is JsonObject o && o["type"] is JsonValue type && type.GetValueKind() == JsonValueKind.String && (string)type! == "object")
            {
                objects++;
                var additional = o["additionalProperties"];
                Assert.True(additional is JsonObject || (additional is JsonValue v && v.GetValueKind() == JsonValueKind.False),
                    $"{path}: an object schema needs additionalProperties false (or a schema for map values)");
                Assert.True(o.ContainsKey("properties") == additional is JsonValue, $"{path}: a map (no properties) types its values; a record (properties) is closed");
            }
        }

        Assert.True(objects > 20);
    }

    [Fact]
    public void Templates_use_only_values_that_values_yaml_declares()
    {
        var values = DefaultValues;
        foreach (var (file, text) in HelmChart.TemplateFiles)
        {
            foreach (Match m in Regex.Matches(text, @"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)"))
            {
                JsonNode? node = values;
                foreach (var key in m.Groups[1].Value.Split('.', StringSplitOptions.RemoveEmptyEntries))
                {
                    Assert.True(node is JsonObject o && o.ContainsKey(key), $"{file} uses {m.Value}, which values.yaml does not declare");
                    node = node![key];
                }
            }
        }
    }

    [Fact]
    public void Template_blocks_are_balanced()
    {
        foreach (var (file, text) in HelmChart.TemplateFiles)
        {
            var opened = Regex.Count(text, @"\{\{-?\s*(?:if|with|range|define|block)\b");
            var closed = Regex.Count(text, @"\{\{-?\s*end\s*-?\}\}");
            Assert.True(opened == closed, $"{file}: {opened} blocks opened, {closed} closed");
        }
    }

    [Fact]
    public void Every_template_object_gets_the_standard_labels()
    {
        var helpers = File.ReadAllText(Path.Combine(HelmChart.TemplatesDir, "_helpers.tpl"));
        foreach (var label in KustomizeTests.StandardLabels.Append("helm.sh/chart"))
        {
            Assert.Contains($"{label}:", helpers);
        }

        foreach (var document in HelmChart.Documents())
        {
            Assert.Contains("include \"odiff.labels\"", document.Text);
        }
    }

    [Fact]
    public void Chart_and_kustomize_describe_the_same_objects()
    {
        var chart = HelmChart.Documents().Select(d => $"{d.Kind}/{d.Component}").Order();
        var manifest = Kustomize.Overlay("gpu");
        var kustomize = manifest.Objects.Where(o => o is not V1Namespace).Select(o => $"{o.Kind}/{o.Metadata.Labels[Manifest.ComponentLabel]}")
            .Concat(manifest.CustomResources.Select(c => $"{c.Kind.Split('/')[^1]}/{c.ScalarAt("metadata", "labels", Manifest.ComponentLabel)}"))
            .Order();
        Assert.Equal(kustomize, chart);
    }

    [Fact]
    public void Chart_and_kustomize_workloads_have_the_same_ports_probes_and_grace_periods()
    {
        var manifest = Kustomize.Overlay("gpu");
        var documents = HelmChart.Documents();
        foreach (var (_, template, _) in manifest.PodTemplates)
        {
            var component = template.Metadata.Labels[Manifest.ComponentLabel];
            var document = documents.Single(d => d.Kind is "Deployment" or "StatefulSet" && d.Component == component);
            var container = template.Spec.Containers.Single();

            Assert.Equal(container.Ports.ToDictionary(p => p.Name, p => p.ContainerPort).OrderBy(kv => kv.Key), document.ContainerPorts.OrderBy(kv => kv.Key));
            var probes = new Dictionary<string, V1Probe?> { ["startupProbe"] = container.StartupProbe, ["readinessProbe"] = container.ReadinessProbe, ["livenessProbe"] = container.LivenessProbe }
                .Where(kv => kv.Value?.HttpGet is not null)
                .ToDictionary(kv => kv.Key, kv => (kv.Value!.HttpGet.Path, kv.Value.HttpGet.Port.Value));
            Assert.Equal(probes.OrderBy(kv => kv.Key), document.HttpProbes.OrderBy(kv => kv.Key));
            Assert.Equal(template.Spec.TerminationGracePeriodSeconds, (long?)document.Int("terminationGracePeriodSeconds"));
            Assert.Contains("automountServiceAccountToken: false", document.Text);
            Assert.Equal(container.Args ?? [], document.Args);
        }
    }

    [Fact]
    public void Chart_and_kustomize_services_expose_the_same_ports()
    {
        var manifest = Kustomize.Overlay("gpu");
        var documents = HelmChart.Documents();
        foreach (var service in manifest.All<V1Service>())
        {
            var document = documents.Single(d => d.Kind == "Service" && d.Component == service.Metadata.Labels[Manifest.ComponentLabel]);
            Assert.Equal(service.Spec.Ports.ToDictionary(p => p.Name, p => (p.Port, p.TargetPort.Value)).OrderBy(kv => kv.Key),
                document.ServicePorts.OrderBy(kv => kv.Key));
        }
    }

    [Fact]
    public void Chart_silos_get_the_same_settings_as_the_kustomize_silos()
    {
        var manifest = Kustomize.Overlay("gpu");
        var documents = HelmChart.Documents();
        var helpers = File.ReadAllText(Path.Combine(HelmChart.TemplatesDir, "_helpers.tpl"));
        var siloEnv = Regex.Match(helpers, @"define ""odiff.siloEnv"".*?\{\{- end \}\}\s*$", RegexOptions.Singleline | RegexOptions.Multiline).Value;
        var shared = new TemplateDocument("_helpers.tpl", "", "", siloEnv).EnvNames
            .Concat(documents.Single(d => d.Kind == "ConfigMap" && d.Component == "config").EnvNames).ToHashSet();
        foreach (var deployment in new[] { manifest.Worker, manifest.Coordinator })
        {
            var component = deployment.Metadata.Labels[Manifest.ComponentLabel];
            var document = documents.Single(d => d.Kind == "Deployment" && d.Component == component);
            var chartEnv = document.EnvNames.Concat(shared).Order();
            var kustomizeEnv = manifest.Environment(deployment.Spec.Template.Spec.Containers.Single()).Keys.Order();
            Assert.Equal(kustomizeEnv, chartEnv);
        }
    }

    [Fact]
    public void Chart_defaults_put_workers_on_gpus()
    {
        var worker = DefaultValues["worker"]!;
        Assert.True((bool)worker["gpu"]!["enabled"]!);
        Assert.True((long)worker["gpu"]!["count"]! >= 1);
        Assert.Equal("nvidia.com/gpu", (string)worker["gpu"]!["resourceName"]!);
        Assert.NotEmpty(worker["nodeSelector"]!.AsObject());

        // The template turns gpu into the resource limit and the NoSchedule toleration for the same resource.
        var template = HelmChart.Documents().Single(d => d.Kind == "Deployment" && d.Component == "worker").Text;
        Assert.Matches(@"- key: \{\{ \$gpu\.resourceName \}\}\s*\n\s*operator: Exists\s*\n\s*effect: NoSchedule", template);
        Assert.Contains("merge (dict $gpu.resourceName $gpu.count) $limits", File.ReadAllText(Path.Combine(HelmChart.TemplatesDir, "worker.yaml")));
    }

    private static EvaluationResults Evaluate(JsonNode? values) =>
        Schema.Evaluate(JsonSerializer.SerializeToElement(values), new EvaluationOptions { OutputFormat = OutputFormat.List });

    private static void AssertValid(JsonNode? values, string what)
    {
        var results = Evaluate(values);
        Assert.True(results.IsValid, $"{what} fails the schema: " + string.Join("; ",
            Failures(results).SelectMany(r => r.Errors!.Select(e => $"{r.InstanceLocation}: {e.Value}"))));
    }

    private static IEnumerable<EvaluationResults> Failures(EvaluationResults results) =>
        (results.Details ?? []).Prepend(results).Where(r => !r.IsValid && r.Errors is { Count: > 0 });

    private static IEnumerable<(string Path, JsonNode Node)> Walk(JsonNode node, string path)
    {
        yield return (path, node);
        var children = node switch
        {
            JsonObject o => o.Where(kv => kv.Value is not null).Select(kv => ($"{path}/{kv.Key}", kv.Value!)),
            JsonArray a => a.Select((c, i) => ($"{path}/{i}", c!)),
            _ => [],
        };
        foreach (var (childPath, child) in children)
        {
            foreach (var found in Walk(child, childPath))
            {
                yield return found;
            }
        }
    }
}
