using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using k8s;
using k8s.Models;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// The Helm chart without helm: values.yaml and example values files against values.schema.json, and the
/// chart rendered into typed objects (<see cref="HelmChart.Render"/>) against the kustomize manifests.
/// </summary>
public class HelmChartTests
{
    private static readonly string ValuesDir = Repo.PathOf("tests", "OrleansDiffusion.Deployment.Tests", "values");

    private static JsonNode DefaultValues => HelmChart.DefaultValues;

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
        var paths = HelmChart.Templates().ValuePaths;
        Assert.NotEmpty(paths);
        foreach (var path in paths)
        {
            JsonNode? node = values;
            foreach (var key in path.Split('.'))
            {
                Assert.True(node is JsonObject o && o.ContainsKey(key), $"a template uses .Values.{path}, which values.yaml does not declare");
                node = node![key];
            }
        }
    }

    [Theory, MemberData(nameof(ValidExamples))]
    public void Renders_every_valid_example_into_typed_objects(string file)
    {
        var manifest = HelmChart.Render($"valid/{file}");
        Assert.Equal(["coordinator", "worker"], manifest.All<V1Deployment>().Select(Component).Order());
        Assert.NotEmpty(manifest.All<V1NetworkPolicy>());
    }

    [Fact]
    public void Every_rendered_object_gets_the_standard_labels()
    {
        var manifest = HelmChart.Render();
        foreach (var o in manifest.Objects)
        {
            foreach (var label in KustomizeTests.StandardLabels.Append("helm.sh/chart"))
            {
                Assert.True(o.Metadata.Labels?.ContainsKey(label) == true, $"{o.Kind} {o.Metadata.Name} lacks {label}");
            }

            Assert.StartsWith(HelmChart.ReleaseName + "-", o.Metadata.Name);
            Assert.Equal("Helm", o.Metadata.Labels!["app.kubernetes.io/managed-by"]);
        }

        foreach (var custom in manifest.CustomResources)
        {
            Assert.Equal(HelmChart.ReleaseName, custom.ScalarAt("metadata", "labels", "app.kubernetes.io/instance"));
        }
    }

    [Fact]
    public void Chart_and_kustomize_describe_the_same_objects()
    {
        // Secrets aside: the chart creates the ones it can generate, the kustomize gpu overlay expects them to exist.
        static IEnumerable<string> Kinds(Manifest m) =>
            m.Objects.Where(o => o is not V1Namespace and not V1Secret).Select(o => $"{o.Kind}/{Component(o)}")
                .Concat(m.CustomResources.Select(c => $"{c.Kind.Split('/')[^1]}/{c.ScalarAt("metadata", "labels", Manifest.ComponentLabel)}"))
                .Order();
        Assert.Equal(Kinds(Kustomize.Overlay("gpu")), Kinds(HelmChart.Render(apiVersions: HelmChart.PrometheusOperator)));

        // Without the Prometheus Operator's CRDs the chart leaves the PodMonitor out instead of failing the install.
        Assert.Empty(HelmChart.Render().CustomResources);
    }

    [Fact]
    public void Chart_and_kustomize_workloads_have_the_same_ports_probes_args_and_grace_periods()
    {
        var kustomize = Kustomize.Overlay("gpu");
        var chart = HelmChart.Render();
        foreach (var (_, template, _) in kustomize.PodTemplates)
        {
            var component = template.Metadata.Labels[Manifest.ComponentLabel];
            var rendered = chart.PodTemplates.Single(p => p.Template.Metadata.Labels[Manifest.ComponentLabel] == component).Template;
            var expected = template.Spec.Containers.Single();
            var actual = rendered.Spec.Containers.Single();

            Assert.Equal(Ports(expected), Ports(actual));
            Assert.Equal(Probes(expected), Probes(actual));
            Assert.Equal(template.Spec.TerminationGracePeriodSeconds, rendered.Spec.TerminationGracePeriodSeconds);
            Assert.False(rendered.Spec.AutomountServiceAccountToken ?? true);
            Assert.Equal(expected.Args ?? [], actual.Args ?? []);
            Assert.Equal(expected.VolumeMounts.Select(m => $"{m.MountPath} ro={m.ReadOnlyProperty ?? false}").Order(),
                actual.VolumeMounts.Select(m => $"{m.MountPath} ro={m.ReadOnlyProperty ?? false}").Order());
        }
    }

    [Fact]
    public void Chart_and_kustomize_services_expose_the_same_ports()
    {
        var chart = HelmChart.Render();
        foreach (var service in Kustomize.Overlay("gpu").All<V1Service>())
        {
            var rendered = chart.Single<V1Service>(Component(service));
            Assert.Equal(service.Spec.Ports.Select(p => $"{p.Name} {p.Port} {p.TargetPort.Value}").Order(),
                rendered.Spec.Ports.Select(p => $"{p.Name} {p.Port} {p.TargetPort.Value}").Order());
        }
    }

    [Fact]
    public void Chart_silos_get_the_same_settings_as_the_kustomize_silos()
    {
        var kustomize = Kustomize.Overlay("gpu");
        var chart = HelmChart.Render();
        foreach (var component in new[] { "worker", "coordinator" })
        {
            var expected = kustomize.Environment(kustomize.Single<V1Deployment>(component).Spec.Template.Spec.Containers.Single());
            var actual = chart.Environment(chart.Single<V1Deployment>(component).Spec.Template.Spec.Containers.Single());
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (name, variable) in expected)
            {
                // Literal settings are equal; references (downward API, Secrets) point at the same fields and keys.
                Assert.True(Describe(variable) == Describe(actual[name]), $"{component} {name}: kustomize {Describe(variable)}, chart {Describe(actual[name])}");
            }
        }
    }

    [Fact]
    public void Notes_render_with_the_secrets_to_read()
    {
        var templates = HelmChart.Templates();
        var data = new Dictionary<string, object?>
        {
            ["Values"] = GoTemplate.Values.FromJson(DefaultValues),
            ["Release"] = new Dictionary<string, object?> { ["Name"] = HelmChart.ReleaseName, ["Namespace"] = HelmChart.Namespace },
            ["Chart"] = new Dictionary<string, object?> { ["Name"] = "orleans-diffusion", ["AppVersion"] = "0.1.0" },
        };
        var notes = templates.Execute("orleans-diffusion/templates/NOTES.txt", data);
        Assert.Contains("secret odiff-orleans-diffusion-metrics-token", notes);
        Assert.Contains("secret odiff-orleans-diffusion-api-keys", notes);
        Assert.Contains("odiff-orleans-diffusion-tls", notes);
        Assert.DoesNotContain("WARNING", notes);
    }

    [Fact]
    public void Chart_defaults_put_workers_on_gpus()
    {
        var pod = HelmChart.Render().Worker.Spec.Template.Spec;
        var silo = pod.Containers.Single();
        Assert.Equal(1, silo.Resources.Limits["nvidia.com/gpu"].ToInt32());
        Assert.Contains(pod.Tolerations, t => t.Key == "nvidia.com/gpu" && t.Effect == "NoSchedule" && t.OperatorProperty == "Exists");
        Assert.Equal("true", pod.NodeSelector["nvidia.com/gpu.present"]);
        Assert.Contains("silo-cuda:", silo.Image);
    }

    [Fact]
    public void Four_gpus_per_pod_become_four_devices_and_the_gpu_limit()
    {
        var manifest = HelmChart.Render("valid/gpu-4-per-pod.yaml");
        var silo = manifest.Worker.Spec.Template.Spec.Containers.Single();
        Assert.Equal(4, silo.Resources.Limits["nvidia.com/gpu"].ToInt32());
        Assert.Equal("128Gi", silo.Resources.Limits["memory"].ToString());
        Assert.Equal(Enumerable.Range(0, 4).Select(i => $"cuda:{i}"), KustomizeTests.Devices(manifest.Environment(silo)));
        Assert.Equal(8, manifest.Worker.Spec.Replicas);
        Assert.Equal("ghcr.io/acme/orleans-diffusion-silo-cuda:0.1.0", silo.Image);
    }

    [Fact]
    public void Cpu_only_values_schedule_workers_without_gpus()
    {
        var manifest = HelmChart.Render("valid/cpu-only.yaml");
        var pod = manifest.Worker.Spec.Template.Spec;
        var silo = pod.Containers.Single();
        Assert.False(silo.Resources.Limits?.ContainsKey("nvidia.com/gpu") ?? false);
        Assert.Null(pod.Tolerations);
        Assert.Null(pod.NodeSelector);
        Assert.Equal(["cpu"], KustomizeTests.Devices(manifest.Environment(silo)));
        Assert.DoesNotContain("cuda", silo.Image);
    }

    private static string Component(k8s.IKubernetesObject<V1ObjectMeta> o) => o.Metadata.Labels[Manifest.ComponentLabel];

    private static IEnumerable<string> Ports(V1Container c) => c.Ports.Select(p => $"{p.Name} {p.ContainerPort}").Order();

    private static IEnumerable<string> Probes(V1Container c) =>
        new[] { ("startup", c.StartupProbe), ("readiness", c.ReadinessProbe), ("liveness", c.LivenessProbe) }
            .Select(p => $"{p.Item1} {p.Item2?.HttpGet?.Path} {p.Item2?.HttpGet?.Port?.Value} {p.Item2?.Exec?.Command?.FirstOrDefault()} {p.Item2?.TcpSocket?.Port?.Value}");

    private static string Describe(V1EnvVar v) =>
        v.ValueFrom?.FieldRef is { } field ? $"field {field.FieldPath}"
        : v.ValueFrom?.SecretKeyRef is { } secret ? $"secret key {secret.Key} optional={secret.Optional ?? false}"
        : v.ValueFrom is not null ? "other reference"
        : v.Name == "OrleansDiffusion__Redis" ? "redis address" : $"value {v.Value}";

    private static EvaluationResults Evaluate(JsonNode? values) => HelmChart.Evaluate(values);

    private static void AssertValid(JsonNode? values, string what)
    {
        var results = Evaluate(values);
        Assert.True(results.IsValid, $"{what} fails the schema: " + string.Join("; ",
            Failures(results).SelectMany(r => r.Errors!.Select(e => $"{r.InstanceLocation}: {e.Value}"))));
    }

    private static IEnumerable<EvaluationResults> Failures(EvaluationResults results) => HelmChart.Failures(results);

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
