using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>Invariants of every overlay under k8s/overlays, rendered by the real kubectl kustomize.</summary>
public class KustomizeTests
{
    public const int HostShutdownTimeoutSeconds = 120;
    public const int SiloPort = 11111;
    public const int GatewayPort = 30000;
    public const int HttpPort = 8080;

    public static readonly string[] StandardLabels =
    [
        "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
        "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by",
    ];

    public static TheoryData<string> Overlays => new(Kustomize.Overlays);

    [Fact]
    public void Every_overlay_directory_is_tested()
    {
        var directories = Directory.GetDirectories(Repo.PathOf("k8s", "overlays")).Select(Path.GetFileName);
        Assert.Equal(Kustomize.Overlays.Order(), directories.Order());
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Renders_into_typed_objects_with_the_expected_workloads(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);

        Assert.Equal(["coordinator", "worker"], manifest.All<V1Deployment>().Select(Component).Order());
        Assert.Equal(["redis"], manifest.All<V1StatefulSet>().Select(Component));
        Assert.Equal(["coordinator", "redis"], manifest.All<V1Service>().Select(Component).Order());
        Assert.Equal(["coordinator", "worker"], manifest.All<V1PodDisruptionBudget>().Select(Component).Order());
        Assert.Equal(["models", "outputs"], manifest.All<V1PersistentVolumeClaim>().Select(Component).Order());
        Assert.Equal(
            ["orleans-diffusion-clients", "orleans-diffusion-default-deny", "orleans-diffusion-redis", "orleans-diffusion-silos"],
            manifest.All<V1NetworkPolicy>().Select(p => p.Metadata.Name).Order());
        Assert.Equal(["config", "dashboard"], manifest.All<V1ConfigMap>().Select(Component).Order());
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Every_object_and_pod_template_carries_the_standard_labels(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);
        foreach (var o in manifest.Objects)
        {
            foreach (var label in StandardLabels)
            {
                Assert.True(o.Metadata.Labels?.ContainsKey(label) == true, $"{o.Kind} {o.Metadata.Name} lacks {label}");
            }
        }

        foreach (var custom in manifest.CustomResources)
        {
            var labels = (YamlMappingNode?)custom.At("metadata", "labels");
            Assert.NotNull(labels);
            foreach (var label in StandardLabels)
            {
                Assert.True(labels.Children.ContainsKey(new YamlScalarNode(label)), $"{custom.Kind} lacks {label}");
            }
        }

        foreach (var (name, template, selector) in manifest.PodTemplates)
        {
            foreach (var label in StandardLabels)
            {
                Assert.True(template.Metadata.Labels.ContainsKey(label), $"pod template of {name} lacks {label}");
            }

            Assert.True(Manifest.Selects(selector.MatchLabels, template.Metadata.Labels), $"{name}'s selector does not match its pods");
            foreach (var label in new[] { "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component" })
            {
                Assert.True(selector.MatchLabels.ContainsKey(label), $"{name}'s selector lacks {label}");
            }
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Pods_mount_no_service_account_token_and_run_as_non_root(string overlay)
    {
        foreach (var (name, template, _) in Kustomize.Overlay(overlay).PodTemplates)
        {
            Assert.False(template.Spec.AutomountServiceAccountToken ?? true, $"{name} mounts a service-account token");
            Assert.True(template.Spec.SecurityContext?.RunAsNonRoot, $"{name} may run as root");
            foreach (var container in template.Spec.Containers)
            {
                Assert.False(container.SecurityContext?.AllowPrivilegeEscalation ?? true, $"{name}/{container.Name} allows privilege escalation");
                Assert.Equal("IfNotPresent", container.ImagePullPolicy);
            }
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Silo_containers_probe_startup_ready_and_live_on_the_http_port(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);
        foreach (var deployment in new[] { manifest.Worker, manifest.Coordinator })
        {
            var silo = deployment.Spec.Template.Spec.Containers.Single();
            Assert.Equal("/health/startup", silo.StartupProbe?.HttpGet?.Path);
            Assert.Equal("/health/ready", silo.ReadinessProbe?.HttpGet?.Path);
            Assert.Equal("/health/live", silo.LivenessProbe?.HttpGet?.Path);
            foreach (var probe in new[] { silo.StartupProbe!, silo.ReadinessProbe!, silo.LivenessProbe! })
            {
                Assert.Equal(HttpPort, ResolvePort(silo, probe.HttpGet.Port));
            }

            // The startup probe must allow a slow first start (devices, model) before liveness takes over.
            Assert.True(silo.StartupProbe!.PeriodSeconds * silo.StartupProbe.FailureThreshold >= 300);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Silos_get_longer_to_stop_than_the_host_shutdown_timeout(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);
        foreach (var deployment in new[] { manifest.Worker, manifest.Coordinator })
        {
            Assert.True(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds > HostShutdownTimeoutSeconds,
                $"{deployment.Metadata.Name}: grace period must exceed the host's {HostShutdownTimeoutSeconds} s shutdown timeout");
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Silos_advertise_their_pod_identity_and_explicit_endpoints(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);
        foreach (var (deployment, role) in new[] { (manifest.Worker, "Worker"), (manifest.Coordinator, "Coordinator") })
        {
            var silo = deployment.Spec.Template.Spec.Containers.Single();
            var env = manifest.Environment(silo);
            Assert.Equal(role, env["OrleansDiffusion__Role"].Value);

            // POD_NAME/POD_IP from the downward API, declared before the variables that expand them.
            var order = silo.Env.Select(e => e.Name).ToList();
            Assert.Equal("metadata.name", env["POD_NAME"].ValueFrom?.FieldRef?.FieldPath);
            Assert.Equal("status.podIP", env["POD_IP"].ValueFrom?.FieldRef?.FieldPath);
            Assert.Equal("$(POD_NAME)", env["OrleansDiffusion__SiloName"].Value);
            Assert.Equal("$(POD_IP)", env["OrleansDiffusion__AdvertisedAddress"].Value);
            Assert.True(order.IndexOf("POD_NAME") < order.IndexOf("OrleansDiffusion__SiloName"));
            Assert.True(order.IndexOf("POD_IP") < order.IndexOf("OrleansDiffusion__AdvertisedAddress"));

            // The ports the host listens on are the container ports.
            var ports = silo.Ports.ToDictionary(p => p.Name, p => p.ContainerPort);
            Assert.Equal(SiloPort, int.Parse(env["OrleansDiffusion__SiloPort"].Value));
            Assert.Equal(HttpPort, int.Parse(env["OrleansDiffusion__HttpPort"].Value));
            var gateway = int.Parse(env["OrleansDiffusion__GatewayPort"].Value);
            var expected = new Dictionary<string, int> { ["silo"] = SiloPort, ["http"] = HttpPort };
            if (role == "Coordinator")
            {
                expected["gateway"] = GatewayPort;
                Assert.Equal(GatewayPort, gateway);
            }
            else
            {
                Assert.Equal(0, gateway);
            }

            Assert.Equal(expected.OrderBy(kv => kv.Key), ports.OrderBy(kv => kv.Key));

            // Membership in the Redis of this manifest (host:port; the silo builds the connection options).
            var redisService = manifest.Single<V1Service>("redis");
            Assert.Equal($"{redisService.Metadata.Name}:{redisService.Spec.Ports.Single().Port}", env["OrleansDiffusion__Redis"].Value);
            Assert.Equal("false", env["OrleansDiffusion__RedisTls"].Value);
            Assert.Equal("odiff", env["OrleansDiffusion__ClusterId"].Value);
            Assert.Equal("odiff", env["OrleansDiffusion__ServiceId"].Value);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Service_target_ports_are_ports_of_the_selected_containers(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);
        foreach (var service in manifest.All<V1Service>())
        {
            var pods = manifest.PodTemplates.Where(p => Manifest.Selects(service.Spec.Selector, p.Template.Metadata.Labels)).ToList();
            Assert.True(pods.Count == 1, $"Service {service.Metadata.Name} selects {pods.Count} workloads");
            var containers = pods[0].Template.Spec.Containers;
            foreach (var port in service.Spec.Ports)
            {
                Assert.Contains(containers, c => c.Ports.Any(p => p.Name == port.TargetPort.Value || p.ContainerPort.ToString() == port.TargetPort.Value));
                var target = containers.SelectMany(c => c.Ports).First(p => p.Name == port.TargetPort.Value || p.ContainerPort.ToString() == port.TargetPort.Value);
                Assert.Equal(target.ContainerPort, port.Port);
            }
        }

        var coordinatorService = manifest.Single<V1Service>("coordinator");
        Assert.Equal([HttpPort, GatewayPort], coordinatorService.Spec.Ports.Select(p => p.Port).Order());
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Redis_persists_with_append_only_file_on_a_volume(string overlay)
    {
        var redis = Kustomize.Overlay(overlay).Redis;
        var container = redis.Spec.Template.Spec.Containers.Single();
        var args = (container.Command ?? []).Concat(container.Args ?? []).ToList();
        Assert.Equal("yes", args[args.IndexOf("--appendonly") + 1]);
        var dataDir = args[args.IndexOf("--dir") + 1];

        var claim = redis.Spec.VolumeClaimTemplates.Single();
        Assert.Contains(container.VolumeMounts, m => m.Name == claim.Metadata.Name && m.MountPath == dataDir);
        Assert.Equal(1, redis.Spec.Replicas);
        Assert.Equal(redis.Spec.ServiceName, Kustomize.Overlay(overlay).Single<V1Service>("redis").Metadata.Name);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Disruption_budgets_cover_both_silo_deployments(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);
        foreach (var deployment in new[] { manifest.Worker, manifest.Coordinator })
        {
            var budget = manifest.All<V1PodDisruptionBudget>()
                .Single(b => Manifest.Selects(b.Spec.Selector.MatchLabels, deployment.Spec.Template.Metadata.Labels));
            Assert.True(budget.Spec.MaxUnavailable?.Value == "1" || budget.Spec.MinAvailable is not null);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Coordinators_write_outputs_to_the_shared_volume(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);
        var pod = manifest.Coordinator.Spec.Template.Spec;
        var silo = pod.Containers.Single();
        var outputDirectory = manifest.Environment(silo)["OrleansDiffusion__OutputDirectory"].Value;
        var mount = silo.VolumeMounts.Single(m => m.MountPath == outputDirectory);
        var claimName = pod.Volumes.Single(v => v.Name == mount.Name).PersistentVolumeClaim.ClaimName;
        var claim = manifest.All<V1PersistentVolumeClaim>().Single(c => c.Metadata.Name == claimName);

        // More than one coordinator writes there: that needs ReadWriteMany.
        if (manifest.Coordinator.Spec.Replicas > 1)
        {
            Assert.Contains("ReadWriteMany", claim.Spec.AccessModes);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Images_are_real_repositories_with_pinned_tags(string overlay)
    {
        foreach (var (name, template, _) in Kustomize.Overlay(overlay).PodTemplates)
        {
            foreach (var container in template.Spec.Containers)
            {
                var image = container.Image;
                Assert.DoesNotContain(image, new[] { "orleans-diffusion-silo", "orleans-diffusion-silo-cuda" });
                var tag = image[(image.LastIndexOf('/') + 1)..].Split(':');
                Assert.True(tag.Length == 2 && tag[1] != "latest", $"{name}: image {image} needs a pinned tag");
            }
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Silos_are_scraped_by_prometheus(string overlay)
    {
        var manifest = Kustomize.Overlay(overlay);
        foreach (var deployment in new[] { manifest.Worker, manifest.Coordinator })
        {
            var template = deployment.Spec.Template;
            var annotations = template.Metadata.Annotations ?? new Dictionary<string, string>();
            var podMonitors = manifest.CustomResources.Where(c => c.Kind.EndsWith("/PodMonitor", StringComparison.Ordinal))
                .Where(m => PodMonitorSelects(m, template.Metadata.Labels)).ToList();
            var annotated = annotations.TryGetValue("prometheus.io/scrape", out var scrape) && scrape == "true";
            Assert.True(annotated || podMonitors.Count > 0, $"nothing scrapes {deployment.Metadata.Name}");
            if (annotated)
            {
                Assert.Equal(HttpPort.ToString(), annotations["prometheus.io/port"]);
                Assert.Equal("/metrics", annotations["prometheus.io/path"]);
            }

            foreach (var monitor in podMonitors)
            {
                var endpoint = (YamlMappingNode)((YamlSequenceNode)monitor.At("spec", "podMetricsEndpoints")!).Children.Single();
                var port = ((YamlScalarNode)endpoint.Children[new YamlScalarNode("port")]).Value;
                var path = ((YamlScalarNode)endpoint.Children[new YamlScalarNode("path")]).Value;
                Assert.Equal("/metrics", path);
                Assert.Equal(HttpPort, template.Spec.Containers.Single().Ports.Single(p => p.Name == port).ContainerPort);
            }
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void The_dashboard_config_map_carries_the_dashboard_for_the_grafana_sidecar(string overlay)
    {
        var dashboard = Kustomize.Overlay(overlay).Single<V1ConfigMap>("dashboard");
        Assert.Equal("1", dashboard.Metadata.Labels["grafana_dashboard"]);
        Assert.Equal(Repo.Read("k8s", "base", "dashboards", "orleans-diffusion.json"), dashboard.Data["orleans-diffusion.json"]);
    }

    [Fact]
    public void The_gpu_overlay_puts_each_worker_on_its_own_gpus()
    {
        var manifest = Kustomize.Overlay("gpu");
        var pod = manifest.Worker.Spec.Template.Spec;
        var silo = pod.Containers.Single();

        var gpus = silo.Resources.Limits["nvidia.com/gpu"].ToInt32();
        Assert.True(gpus >= 1);
        Assert.Contains(pod.Tolerations, t => t.Key == "nvidia.com/gpu" && t.Effect == "NoSchedule" && t.OperatorProperty is "Exists" or "Equal");
        Assert.NotEmpty(pod.NodeSelector);

        // One cuda device per GPU of the limit, in the CUDA image.
        Assert.Equal(Enumerable.Range(0, gpus).Select(i => $"cuda:{i}"), Devices(manifest.Environment(silo)));
        Assert.Contains("silo-cuda:", silo.Image);

        // Coordinators need no GPU.
        var coordinator = manifest.Coordinator.Spec.Template.Spec.Containers.Single();
        Assert.False(coordinator.Resources.Limits?.ContainsKey("nvidia.com/gpu") ?? false);
    }

    [Fact]
    public void The_cpu_dev_overlay_runs_workers_on_the_cpu_without_gpu_scheduling()
    {
        var manifest = Kustomize.Overlay("cpu-dev");
        var pod = manifest.Worker.Spec.Template.Spec;
        var silo = pod.Containers.Single();

        Assert.False(silo.Resources.Limits?.ContainsKey("nvidia.com/gpu") ?? false);
        Assert.Null(pod.Tolerations);
        Assert.Null(pod.NodeSelector);
        Assert.Equal(["cpu"], Devices(manifest.Environment(silo)));
        Assert.DoesNotContain("cuda", silo.Image);
    }

    [Fact]
    public void The_base_renders_too()
    {
        var manifest = Kustomize.Base();
        Assert.Equal(2, manifest.All<V1Deployment>().Count());
    }

    /// <summary>The typed device list of a silo: OrleansDiffusion__Devices__0, __1, ... in order.</summary>
    public static IReadOnlyList<string> Devices(IReadOnlyDictionary<string, V1EnvVar> env)
    {
        var devices = env.Where(kv => kv.Key.StartsWith("OrleansDiffusion__Devices__", StringComparison.Ordinal))
            .Select(kv => (Index: int.Parse(kv.Key["OrleansDiffusion__Devices__".Length..]), kv.Value.Value)).OrderBy(d => d.Index).ToList();
        Assert.Equal(Enumerable.Range(0, devices.Count), devices.Select(d => d.Index));
        Assert.False(env.ContainsKey("OrleansDiffusion__Devices"), "the comma-separated OrleansDiffusion__Devices is replaced by the typed list");
        return devices.Select(d => d.Value).ToList();
    }

    private static string Component(IKubernetesObject<V1ObjectMeta> o) => o.Metadata.Labels[Manifest.ComponentLabel];

    private static int ResolvePort(V1Container container, IntOrString port) =>
        int.TryParse(port.Value, out var number) ? number : container.Ports.Single(p => p.Name == port.Value).ContainerPort;

    private static bool PodMonitorSelects(CustomResource monitor, IDictionary<string, string> labels)
    {
        var matchLabels = (YamlMappingNode?)monitor.At("spec", "selector", "matchLabels");
        foreach (var (key, value) in matchLabels?.Children.AsEnumerable() ?? [])
        {
            if (!labels.TryGetValue(((YamlScalarNode)key).Value!, out var actual) || actual != ((YamlScalarNode)value).Value)
            {
                return false;
            }
        }

        var expressions = (YamlSequenceNode?)monitor.At("spec", "selector", "matchExpressions");
        foreach (var expression in expressions?.Children.Cast<YamlMappingNode>() ?? [])
        {
            var key = ((YamlScalarNode)expression.Children[new YamlScalarNode("key")]).Value!;
            var op = ((YamlScalarNode)expression.Children[new YamlScalarNode("operator")]).Value;
            var values = ((YamlSequenceNode)expression.Children[new YamlScalarNode("values")]).Children.Select(v => ((YamlScalarNode)v).Value).ToList();
            Assert.Equal("In", op);
            if (!labels.TryGetValue(key, out var actual) || !values.Contains(actual))
            {
                return false;
            }
        }

        return true;
    }
}
