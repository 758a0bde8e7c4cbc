using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// A rendered multi-document manifest: built-in kinds as typed KubernetesClient models (strict: an unknown
/// field fails the parse), custom resources as YAML trees.
/// </summary>
internal sealed partial class Manifest
{
    public const string ComponentLabel = "app.kubernetes.io/component";

    /// <summary>Every built-in kind the manifests may contain, keyed as KubernetesYaml expects.</summary>
    public static readonly Dictionary<string, Type> TypeMap = new()
    {
        ["v1/Namespace"] = typeof(V1Namespace),
        ["v1/ConfigMap"] = typeof(V1ConfigMap),
        ["v1/Service"] = typeof(V1Service),
        ["v1/PersistentVolumeClaim"] = typeof(V1PersistentVolumeClaim),
        ["apps/v1/Deployment"] = typeof(V1Deployment),
        ["apps/v1/StatefulSet"] = typeof(V1StatefulSet),
        ["policy/v1/PodDisruptionBudget"] = typeof(V1PodDisruptionBudget),
        ["v1/Secret"] = typeof(V1Secret),
        ["networking.k8s.io/v1/NetworkPolicy"] = typeof(V1NetworkPolicy),
        ["networking.k8s.io/v1/Ingress"] = typeof(V1Ingress),
    };

    /// <summary>Custom resources allowed in an overlay (their CRDs come with the Prometheus Operator).</summary>
    public static readonly HashSet<string> CustomKinds = ["monitoring.coreos.com/v1/PodMonitor"];

    public required IReadOnlyList<IKubernetesObject<V1ObjectMeta>> Objects { get; init; }

    public required IReadOnlyList<CustomResource> CustomResources { get; init; }

    public static Manifest Parse(string yaml)
    {
        var objects = new List<IKubernetesObject<V1ObjectMeta>>();
        var custom = new List<CustomResource>();
        foreach (var document in DocumentSeparator().Split(yaml).Where(d => !string.IsNullOrWhiteSpace(d)))
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(document));
            var root = (YamlMappingNode)stream.Documents[0].RootNode;
            var key = $"{Scalar(root, "apiVersion")}/{Scalar(root, "kind")}";
            if (TypeMap.ContainsKey(key))
            {
                var parsed = KubernetesYaml.LoadAllFromString(document, TypeMap, strict: true);
                objects.Add((IKubernetesObject<V1ObjectMeta>)parsed.Single());
            }
            else if (CustomKinds.Contains(key))
            {
                custom.Add(new CustomResource(key, root));
            }
            else
            {
                throw new InvalidOperationException($"Unexpected kind {key} in the rendered manifest.");
            }
        }

        return new Manifest { Objects = objects, CustomResources = custom };
    }

    public IEnumerable<T> All<T>() => Objects.OfType<T>();

    public T Single<T>(string component)
        where T : IKubernetesObject<V1ObjectMeta> =>
        All<T>().Single(o => o.Metadata.Labels is { } labels && labels.TryGetValue(ComponentLabel, out var c) && c == component);

    public V1Deployment Worker => Single<V1Deployment>("worker");

    public V1Deployment Coordinator => Single<V1Deployment>("coordinator");

    public V1StatefulSet Redis => Single<V1StatefulSet>("redis");

    /// <summary>Every workload's pod template with the workload's name.</summary>
    public IEnumerable<(string Name, V1PodTemplateSpec Template, V1LabelSelector Selector)> PodTemplates =>
        All<V1Deployment>().Select(d => (d.Metadata.Name, d.Spec.Template, d.Spec.Selector))
            .Concat(All<V1StatefulSet>().Select(s => (s.Metadata.Name, s.Spec.Template, s.Spec.Selector)));

    public V1ConfigMap ConfigMap(string name) => All<V1ConfigMap>().Single(c => c.Metadata.Name == name);

    /// <summary>The container's environment with envFrom ConfigMaps resolved (explicit env wins).</summary>
    public Dictionary<string, V1EnvVar> Environment(V1Container container)
    {
        var env = new Dictionary<string, V1EnvVar>();
        foreach (var source in container.EnvFrom ?? [])
        {
            Assert.NotNull(source.ConfigMapRef);
            foreach (var (key, value) in ConfigMap(source.ConfigMapRef.Name).Data)
            {
                env[key] = new V1EnvVar { Name = key, Value = value };
            }
        }

        foreach (var variable in container.Env ?? [])
        {
            env[variable.Name] = variable;
        }

        return env;
    }

    public static bool Selects(IDictionary<string, string> selector, IDictionary<string, string>? labels) =>
        labels is not null && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);

    private static string Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? ((YamlScalarNode)value).Value ?? "" : "";

    [GeneratedRegex(@"^---\s*$", RegexOptions.Multiline)]
    private static partial Regex DocumentSeparator();
}

internal sealed record CustomResource(string Kind, YamlMappingNode Root)
{
    public YamlNode? At(params string[] path)
    {
        YamlNode node = Root;
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var child))
            {
                return null;
            }

            node = child;
        }

        return node;
    }

    public string? ScalarAt(params string[] path) => (At(path) as YamlScalarNode)?.Value;
}
