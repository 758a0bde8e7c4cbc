using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// Issue 11 on rendered, typed objects, for every kustomize overlay and for the chart's values: who may reach
/// which port (NetworkPolicies evaluated), pod security, and where each credential comes from.
/// </summary>
public class HardeningTests
{
    private const string Monitoring = "monitoring";

    public static TheoryData<string> Sources => new("kustomize:gpu", "kustomize:cpu-dev", "helm:values.yaml", "helm:valid/cpu-only.yaml", "helm:valid/api-ingress.yaml", "helm:valid/external-redis.yaml");

    private static Manifest Load(string source) => source.Split(':') switch
    {
        ["kustomize", var overlay] => Kustomize.Overlay(overlay),
        ["helm", "values.yaml"] => HelmChart.Render(apiVersions: HelmChart.PrometheusOperator),
        ["helm", var file] => HelmChart.Render(file, apiVersions: HelmChart.PrometheusOperator),
        _ => throw new ArgumentException(source),
    };

    private static string NamespaceOf(string source) => source.StartsWith("kustomize:cpu-dev", StringComparison.Ordinal) ? "orleans-diffusion-dev"
        : source.StartsWith("kustomize", StringComparison.Ordinal) ? "orleans-diffusion" : HelmChart.Namespace;

    /// <summary>A pod somewhere in the cluster: its namespace (with the kubernetes.io/metadata.name label) and labels.</summary>
    private sealed record Peer(string Namespace, Dictionary<string, string> Labels);

    [Theory, MemberData(nameof(Sources))]
    public void Network_policies_let_in_only_what_each_port_is_for(string source)
    {
        var manifest = Load(source);
        var ns = NamespaceOf(source);
        var policies = manifest.All<V1NetworkPolicy>().ToList();
        Peer Pod(string component) => new(ns, manifest.PodTemplates.Single(p => p.Template.Metadata.Labels[Manifest.ComponentLabel] == component).Template.Metadata.Labels.ToDictionary());
        var worker = Pod("worker");
        var coordinator = Pod("coordinator");
        var client = new Peer(ns, new() { ["orleans-diffusion.io/client"] = "true", ["app"] = "render-script" });
        var stranger = new Peer(ns, new() { ["app"] = "something-else" });
        var prometheus = new Peer(Monitoring, new() { ["app.kubernetes.io/name"] = "prometheus" });
        var elsewhere = new Peer("other", new() { ["orleans-diffusion.io/client"] = "true", ["app.kubernetes.io/name"] = "prometheus" });

        // Every pod of the app is isolated for ingress.
        foreach (var (name, template, _) in manifest.PodTemplates)
        {
            Assert.True(policies.Any(p => p.Spec.PolicyTypes.Contains("Ingress") && Selects(p.Spec.PodSelector, template.Metadata.Labels)), $"no policy isolates {name}");
        }

        var silos = new[] { worker, coordinator };
        foreach (var target in silos)
        {
            AssertAllowed(manifest, policies, target, "silo", from: silos, denied: [client, stranger, prometheus, elsewhere]);
        }

        AssertAllowed(manifest, policies, worker, "http", from: [prometheus], denied: [client, stranger, elsewhere, coordinator]);
        var clients = source.EndsWith("api-ingress.yaml", StringComparison.Ordinal)
            ? new[] { new Peer("ingress-nginx", new() { ["app"] = "controller" }), new Peer("farm-manager", new() { ["app"] = "farm-manager" }) }
            : [client];
        AssertAllowed(manifest, policies, coordinator, "gateway", from: clients, denied: [stranger, prometheus, elsewhere, worker]);
        AssertAllowed(manifest, policies, coordinator, "http", from: [.. clients, prometheus], denied: [stranger, elsewhere, worker]);

        if (manifest.All<V1StatefulSet>().Any())
        {
            AssertAllowed(manifest, policies, Pod("redis"), "redis", from: silos, denied: [client, stranger, prometheus, elsewhere]);
        }
    }

    [Theory, MemberData(nameof(Sources))]
    public void Pods_run_non_root_read_only_without_capabilities_under_runtime_default_seccomp(string source)
    {
        foreach (var (name, template, _) in Load(source).PodTemplates)
        {
            var pod = template.Spec.SecurityContext;
            Assert.Equal("RuntimeDefault", pod?.SeccompProfile?.Type);
            foreach (var container in template.Spec.Containers.Concat(template.Spec.InitContainers ?? []))
            {
                var c = container.SecurityContext;
                Assert.True(c?.RunAsNonRoot ?? pod?.RunAsNonRoot, $"{name}/{container.Name} may run as root");
                var uid = c?.RunAsUser ?? pod?.RunAsUser;
                Assert.True(uid is > 0, $"{name}/{container.Name} has no fixed non-root uid");
                Assert.Equal("RuntimeDefault", c?.SeccompProfile?.Type ?? pod?.SeccompProfile?.Type);
                Assert.True(c?.ReadOnlyRootFilesystem, $"{name}/{container.Name} has a writable root filesystem");
                Assert.False(c?.AllowPrivilegeEscalation ?? true, $"{name}/{container.Name} allows privilege escalation");
                Assert.Equal(["ALL"], c?.Capabilities?.Drop);
                Assert.Null(c?.Capabilities?.Add);
                Assert.Null(c?.Privileged);

                // Writable paths are volumes: /tmp for silos (an emptyDir), /data for Redis.
                var writable = container.VolumeMounts.Where(m => m.ReadOnlyProperty != true).Select(m => m.MountPath).ToList();
                Assert.Contains(container.Name == "redis" ? "/data" : "/tmp", writable);
                if (container.Name == "silo")
                {
                    var tmp = container.VolumeMounts.Single(m => m.MountPath == "/tmp");
                    Assert.NotNull(template.Spec.Volumes.Single(v => v.Name == tmp.Name).EmptyDir);
                }
            }
        }
    }

    [Theory, MemberData(nameof(Sources))]
    public void Credentials_come_from_secrets_and_files_never_from_literals(string source)
    {
        var manifest = Load(source);
        var production = !source.Contains("cpu-dev", StringComparison.Ordinal) && !source.Contains("cpu-only", StringComparison.Ordinal);
        foreach (var (component, deployment) in new[] { ("worker", manifest.Worker), ("coordinator", manifest.Coordinator) })
        {
            var pod = deployment.Spec.Template.Spec;
            var silo = pod.Containers.Single();
            var env = manifest.Environment(silo);

            // Listen only on the pod IP.
            Assert.Equal("$(POD_IP)", env["OrleansDiffusion__ListenAddress"].Value);

            // Redis password (and user) only through secretKeyRef.
            foreach (var name in new[] { "OrleansDiffusion__RedisPassword", "OrleansDiffusion__RedisUser" }.Where(env.ContainsKey))
            {
                Assert.NotNull(env[name].ValueFrom?.SecretKeyRef);
                Assert.Null(env[name].Value);
            }

            Assert.True(env.ContainsKey("OrleansDiffusion__RedisPassword"), $"{component} joins Redis without a password");
            Assert.All(silo.Args ?? [], a => Assert.DoesNotContain("password", a, StringComparison.OrdinalIgnoreCase));

            // TLS: on in production, off in development; the three files come from one kubernetes.io/tls-shaped Secret.
            Assert.Equal(production, env.ContainsKey("OrleansDiffusion__Tls__CertificateFile"));
            if (production)
            {
                var secret = SecretAt(pod, silo, env["OrleansDiffusion__Tls__CertificateFile"].Value, "tls.crt");
                Assert.Equal(secret, SecretAt(pod, silo, env["OrleansDiffusion__Tls__KeyFile"].Value, "tls.key"));
                Assert.Equal(secret, SecretAt(pod, silo, env["OrleansDiffusion__Tls__CaFile"].Value, "ca.crt"));
            }

            // The metrics token file is a Secret key, and whatever scrapes the silo sends that token.
            var annotated = deployment.Spec.Template.Metadata.Annotations is { } annotations && annotations.TryGetValue("prometheus.io/scrape", out var scrape) && scrape == "true";
            var monitors = manifest.CustomResources.Where(c => c.Kind.EndsWith("/PodMonitor", StringComparison.Ordinal)).ToList();
            if (env.TryGetValue("OrleansDiffusion__MetricsTokenFile", out var tokenFile))
            {
                var (secretName, key) = SecretKeyAt(pod, silo, tokenFile.Value);
                Assert.False(annotated, $"{component}: annotation scrapes cannot send the metrics token");
                Assert.NotEmpty(monitors);
                foreach (var endpoint in monitors.SelectMany(m => ((YamlSequenceNode)m.At("spec", "podMetricsEndpoints")!).Children.Cast<YamlMappingNode>()))
                {
                    var auth = new CustomResource("", endpoint);
                    Assert.Equal("Bearer", auth.ScalarAt("authorization", "type"));
                    Assert.Equal(secretName, auth.ScalarAt("authorization", "credentials", "name"));
                    Assert.Equal(key, auth.ScalarAt("authorization", "credentials", "key"));
                }
            }
            else
            {
                Assert.False(production, $"{component}: /metrics is open in production");
                Assert.True(annotated || monitors.Count > 0);
            }

            // The API keys file of the coordinators.
            if (component == "coordinator")
            {
                Assert.Equal("keys", SecretKeyAt(pod, silo, env["OrleansDiffusion__ApiKeysFile"].Value).Key);
            }
            else
            {
                Assert.False(env.ContainsKey("OrleansDiffusion__ApiKeysFile"));
            }
        }

        // Secrets referenced exist in the manifest, or are the ones the README tells you to create.
        var present = manifest.All<V1Secret>().Select(s => s.Metadata.Name).ToHashSet();
        foreach (var name in ReferencedSecrets(manifest).Where(n => !present.Contains(n)))
        {
            Assert.True(ExpectedToExist(source).Contains(name), $"{source} references Secret {name}, which nobody creates");
        }

        // Redis asks for the same password the silos send.
        foreach (var redis in manifest.All<V1StatefulSet>())
        {
            var container = redis.Spec.Template.Spec.Containers.Single();
            var args = container.Args.ToList();
            Assert.Equal("$(REDIS_PASSWORD)", args[args.IndexOf("--requirepass") + 1]);
            var password = container.Env.Single(e => e.Name == "REDIS_PASSWORD").ValueFrom.SecretKeyRef;
            var silos = manifest.Environment(manifest.Worker.Spec.Template.Spec.Containers.Single())["OrleansDiffusion__RedisPassword"].ValueFrom.SecretKeyRef;
            Assert.Equal((silos.Name, silos.Key), (password.Name, password.Key));
            Assert.Equal((silos.Name, silos.Key), (container.Env.Single(e => e.Name == "REDISCLI_AUTH").ValueFrom.SecretKeyRef.Name, "password"));
        }
    }

    [Theory, MemberData(nameof(Sources))]
    public void Models_are_mounted_read_only_and_checkpoints_live_on_the_shared_volume(string source)
    {
        var manifest = Load(source);
        foreach (var deployment in new[] { manifest.Worker, manifest.Coordinator })
        {
            var pod = deployment.Spec.Template.Spec;
            var silo = pod.Containers.Single();
            var env = manifest.Environment(silo);
            var models = silo.VolumeMounts.Single(m => m.MountPath == env["OrleansDiffusion__ModelsDirectory"].Value);
            Assert.True(models.ReadOnlyProperty);
            var claim = pod.Volumes.Single(v => v.Name == models.Name).PersistentVolumeClaim;
            Assert.True(claim.ReadOnlyProperty);
            var pvc = manifest.All<V1PersistentVolumeClaim>().Single(c => c.Metadata.Name == claim.ClaimName);
            if (deployment.Spec.Replicas + manifest.Worker.Spec.Replicas > 1 && !source.Contains("cpu", StringComparison.Ordinal))
            {
                Assert.True(pvc.Spec.AccessModes.Intersect(["ReadOnlyMany", "ReadWriteMany"]).Any(), $"{source}: many silos share the models volume");
            }

            Assert.True(int.Parse(env["OrleansDiffusion__CheckpointEvery"].Value) >= 1);
            Assert.True(int.Parse(env["OrleansDiffusion__IntraOpThreads"].Value) >= 0);
        }

        var coordinator = manifest.Environment(manifest.Coordinator.Spec.Template.Spec.Containers.Single());
        Assert.Equal(coordinator["OrleansDiffusion__OutputDirectory"].Value + "/.checkpoints", coordinator["OrleansDiffusion__CheckpointDirectory"].Value);
        Assert.True(int.Parse(coordinator["OrleansDiffusion__MaxQueuedJobs"].Value) >= 1);
    }

    [Fact]
    public void The_optional_ingress_routes_to_the_coordinators_http_port()
    {
        Assert.Empty(HelmChart.Render().All<V1Ingress>());
        var manifest = HelmChart.Render("valid/api-ingress.yaml");
        var ingress = manifest.All<V1Ingress>().Single();
        var service = manifest.Single<V1Service>("coordinator");
        Assert.Equal("nginx", ingress.Spec.IngressClassName);
        Assert.Equal("odiff-api-tls", ingress.Spec.Tls.Single().SecretName);
        var backend = ingress.Spec.Rules.Single().Http.Paths.Single().Backend.Service;
        Assert.Equal(service.Metadata.Name, backend.Name);
        Assert.Equal(KustomizeTests.HttpPort, service.Spec.Ports.Single(p => p.Name == backend.Port.Name).Port);
    }

    [Fact]
    public void The_chart_generates_the_secrets_it_is_not_given()
    {
        var generated = HelmChart.Render().All<V1Secret>().ToDictionary(s => s.Metadata.Name);
        Assert.Equal(["odiff-orleans-diffusion-api-keys", "odiff-orleans-diffusion-metrics-token", "odiff-orleans-diffusion-redis-auth"], generated.Keys.Order());
        foreach (var secret in generated.Values)
        {
            Assert.Equal("keep", secret.Metadata.Annotations["helm.sh/resource-policy"]);
            Assert.All(secret.Data.Values, v => Assert.True(v.Length >= 32));
        }

        // Secrets named in values are used, not generated.
        var manifest = HelmChart.Render("valid/api-ingress.yaml");
        Assert.DoesNotContain(manifest.All<V1Secret>(), s => s.Metadata.Name.EndsWith("-api-keys", StringComparison.Ordinal));
        Assert.Contains("render-farm-api-keys", ReferencedSecrets(manifest));
        Assert.Contains("odiff-mtls", ReferencedSecrets(manifest));
    }

    private static HashSet<string> ExpectedToExist(string source) => source switch
    {
        "kustomize:gpu" => ["orleans-diffusion-redis-auth", "orleans-diffusion-tls", "orleans-diffusion-metrics-token", "orleans-diffusion-api-keys"],
        "helm:valid/api-ingress.yaml" => ["odiff-mtls", "render-farm-api-keys"],
        "helm:valid/external-redis.yaml" => ["orleans-diffusion-redis", "odiff-orleans-diffusion-tls"],
        _ when source.StartsWith("helm", StringComparison.Ordinal) => ["odiff-orleans-diffusion-tls"],
        _ => [],
    };

    private static IEnumerable<string> ReferencedSecrets(Manifest manifest) =>
        manifest.PodTemplates.SelectMany(p => (p.Template.Spec.Volumes ?? []).Where(v => v.Secret is not null).Select(v => v.Secret.SecretName)
            .Concat(p.Template.Spec.Containers.SelectMany(c => c.Env ?? []).Where(e => e.ValueFrom?.SecretKeyRef is not null && e.ValueFrom.SecretKeyRef.Optional != true)
                .Select(e => e.ValueFrom.SecretKeyRef.Name))).Distinct();

    private static (string Name, string Key) SecretKeyAt(V1PodSpec pod, V1Container container, string path)
    {
        var mount = container.VolumeMounts.Single(m => path.StartsWith(m.MountPath + "/", StringComparison.Ordinal));
        Assert.True(mount.ReadOnlyProperty, $"{mount.MountPath} is mounted writable");
        var secret = pod.Volumes.Single(v => v.Name == mount.Name).Secret;
        Assert.NotNull(secret);
        var file = path[(mount.MountPath.Length + 1)..];
        var key = secret.Items?.SingleOrDefault(i => i.Path == file)?.Key ?? file;
        return (secret.SecretName, key);
    }

    private static string SecretAt(V1PodSpec pod, V1Container container, string path, string key)
    {
        var (name, actual) = SecretKeyAt(pod, container, path);
        Assert.Equal(key, actual);
        return name;
    }

    /// <summary>Whether the policies admit a connection from <paramref name="peer"/> to the named port of <paramref name="target"/>.</summary>
    private static bool Allows(IReadOnlyList<V1NetworkPolicy> policies, string policyNamespace, Peer target, V1Container container, string portName, Peer peer)
    {
        var port = container.Ports.Single(p => p.Name == portName);
        var applying = policies.Where(p => p.Spec.PolicyTypes.Contains("Ingress") && target.Namespace == policyNamespace && Selects(p.Spec.PodSelector, target.Labels)).ToList();
        Assert.NotEmpty(applying);
        return applying.SelectMany(p => p.Spec.Ingress ?? []).Any(rule =>
            (rule.Ports is null || rule.Ports.Any(p => (p.Protocol ?? "TCP") == "TCP" && (p.Port.Value == port.Name || p.Port.Value == port.ContainerPort.ToString())))
            && (rule.FromProperty is null || rule.FromProperty.Any(from => PeerMatches(from, policyNamespace, peer))));
    }

    private static bool PeerMatches(V1NetworkPolicyPeer from, string policyNamespace, Peer peer)
    {
        Assert.Null(from.IpBlock);
        var namespaceLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = peer.Namespace };
        var namespaceOk = from.NamespaceSelector is null ? peer.Namespace == policyNamespace : Selects(from.NamespaceSelector, namespaceLabels);
        var podOk = from.PodSelector is null || Selects(from.PodSelector, peer.Labels);
        return namespaceOk && podOk;
    }

    private static bool Selects(V1LabelSelector selector, IDictionary<string, string> labels) =>
        (selector.MatchLabels ?? new Dictionary<string, string>()).All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value)
        && (selector.MatchExpressions ?? []).All(e => e.OperatorProperty switch
        {
            "In" => labels.TryGetValue(e.Key, out var v) && e.Values.Contains(v),
            "NotIn" => !labels.TryGetValue(e.Key, out var v) || !e.Values.Contains(v),
            "Exists" => labels.ContainsKey(e.Key),
            "DoesNotExist" => !labels.ContainsKey(e.Key),
            _ => throw new InvalidOperationException(e.OperatorProperty),
        });

    private static void AssertAllowed(Manifest manifest, List<V1NetworkPolicy> policies, Peer target, string port, Peer[] from, Peer[] denied)
    {
        var template = manifest.PodTemplates.Single(p => p.Template.Metadata.Labels[Manifest.ComponentLabel] == target.Labels[Manifest.ComponentLabel]).Template;
        var container = template.Spec.Containers.Single();
        foreach (var peer in from)
        {
            Assert.True(Allows(policies, target.Namespace, target, container, port, peer), $"{target.Labels[Manifest.ComponentLabel]}:{port} refuses {peer}");
        }

        foreach (var peer in denied)
        {
            Assert.False(Allows(policies, target.Namespace, target, container, port, peer), $"{target.Labels[Manifest.ComponentLabel]}:{port} admits {peer}");
        }
    }
}
