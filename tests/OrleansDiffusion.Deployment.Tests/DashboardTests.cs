using System.ComponentModel;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>The Grafana dashboard: structure, datasource, and every query against the metrics contract.</summary>
public class DashboardTests
{
    private static readonly string[] Path = ["k8s", "base", "dashboards", "orleans-diffusion.json"];
    private static readonly string[] ChartCopyPath = ["helm", "orleans-diffusion", "dashboards", "orleans-diffusion.json"];

    private static JsonObject Dashboard => JsonNode.Parse(Repo.Read(Path))!.AsObject();

    private static IEnumerable<JsonObject> Panels(JsonObject dashboard) =>
        dashboard["panels"]!.AsArray().Select(p => p!.AsObject())
            .SelectMany(p => new[] { p }.Concat(p["panels"]?.AsArray().Select(c => c!.AsObject()) ?? []));

    private static IReadOnlyList<(string Panel, string Expr)> Expressions(JsonObject dashboard) =>
        Panels(dashboard).SelectMany(p => (p["targets"]?.AsArray() ?? [])
            .Select(t => ((string)p["title"]!, (string)t!["expr"]!))).ToList();

    [Fact]
    public void The_chart_carries_a_byte_identical_copy()
    {
        // Kustomize cannot read files outside its root and helm cannot read files outside the chart, so the
        // dashboard lives in both; k8s/base/dashboards is the one to edit. Copy it over after a change.
        Assert.Equal(File.ReadAllBytes(Repo.PathOf(Path)), File.ReadAllBytes(Repo.PathOf(ChartCopyPath)));
    }

    [Fact]
    public void Is_a_modern_dashboard_with_unique_panels_on_the_grid()
    {
        var dashboard = Dashboard;
        Assert.True((int)dashboard["schemaVersion"]! >= 36);
        Assert.False(string.IsNullOrEmpty((string?)dashboard["uid"]));
        var panels = Panels(dashboard).ToList();
        Assert.Equal(panels.Count, panels.Select(p => (int)p["id"]!).Distinct().Count());
        foreach (var panel in panels)
        {
            var grid = panel["gridPos"]!;
            Assert.True((int)grid["x"]! + (int)grid["w"]! <= 24, $"panel {panel["title"]} is wider than the grid");
        }
    }

    [Fact]
    public void Uses_a_prometheus_datasource_variable_and_no_hard_coded_datasource()
    {
        var dashboard = Dashboard;
        var variable = dashboard["templating"]!["list"]!.AsArray().Single(v => (string)v!["name"]! == "datasource")!;
        Assert.Equal("datasource", (string)variable["type"]!);
        Assert.Equal("prometheus", (string)variable["query"]!);

        foreach (var panel in Panels(dashboard).Where(p => (string)p["type"]! != "row"))
        {
            AssertVariableDatasource(panel["datasource"], $"panel {panel["title"]}");
            foreach (var target in panel["targets"]!.AsArray())
            {
                AssertVariableDatasource(target!["datasource"], $"a query of {panel["title"]}");
            }
        }

        // No uid anywhere but the dashboard's own and the variable reference.
        foreach (var (path, uid) in StringsNamed(dashboard, "uid"))
        {
            Assert.True(path == "$.uid" || uid == "${datasource}", $"hard-coded uid '{uid}' at {path}");
        }
    }

    [Fact]
    public void Queries_only_metrics_of_the_contract()
    {
        var allowed = MetricsContract.SeriesNames();
        var expressions = Expressions(Dashboard);
        Assert.NotEmpty(expressions);
        foreach (var (panel, expr) in expressions)
        {
            var names = PromQl.MetricNames(expr);
            Assert.NotEmpty(names);
            foreach (var name in names)
            {
                Assert.True(allowed.Contains(name), $"panel '{panel}' queries {name}, which is not in the metrics contract: {expr}");
            }
        }
    }

    [Fact]
    public void Groups_only_by_labels_the_metrics_carry()
    {
        var allowed = MetricsContract.Application.SelectMany(m => m.Labels)
            .Concat(MetricsContract.TargetLabels).Append("le").ToHashSet();
        foreach (var (panel, expr) in Expressions(Dashboard))
        {
            foreach (var label in PromQl.GroupingLabels(expr))
            {
                Assert.True(allowed.Contains(label), $"panel '{panel}' groups by {label}: {expr}");
            }
        }
    }

    [Fact]
    public void Shows_every_metric_of_the_contract()
    {
        var used = Expressions(Dashboard).SelectMany(e => PromQl.MetricNames(e.Expr))
            .Select(n => n.EndsWith("_bucket", StringComparison.Ordinal) ? n[..^7]
                : n.EndsWith("_sum", StringComparison.Ordinal) ? n[..^4]
                : n.EndsWith("_count", StringComparison.Ordinal) ? n[..^6] : n)
            .ToHashSet();
        foreach (var (name, _, _) in MetricsContract.Application)
        {
            Assert.True(used.Contains(name), $"no panel shows {name}");
        }

        foreach (var (_, _, prometheus) in MetricsContract.Orleans)
        {
            Assert.True(used.Contains(prometheus), $"no panel shows {prometheus}");
        }
    }

    [Fact]
    public void Has_the_panels_render_farms_watch()
    {
        var dashboard = Dashboard;
        var expressions = Expressions(dashboard).Select(e => e.Expr).ToList();

        // Tile grid: steps/s by (tile_row, tile_col), laid out as a row x column matrix.
        var grid = Panels(dashboard).Single(p => (p["transformations"]?.AsArray() ?? [])
            .Any(t => (string)t!["id"]! == "groupingToMatrix"));
        var matrix = grid["transformations"]!.AsArray().Single(t => (string)t!["id"]! == "groupingToMatrix")!["options"]!;
        Assert.Equal("tile_row", (string)matrix["rowField"]!);
        Assert.Equal("tile_col", (string)matrix["columnField"]!);
        var gridExpr = (string)grid["targets"]![0]!["expr"]!;
        Assert.Contains("odiff_tile_steps_total", gridExpr);
        Assert.Equal(["tile_col", "tile_row"], PromQl.GroupingLabels(gridExpr).Order());

        // Top and bottom tiles.
        Assert.Contains(expressions, e => e.StartsWith("topk(", StringComparison.Ordinal) && e.Contains("odiff_tile_steps_total"));
        Assert.Contains(expressions, e => e.StartsWith("bottomk(", StringComparison.Ordinal) && e.Contains("odiff_tile_steps_total"));

        // Step latency p50 and p95 by silo and device.
        foreach (var q in new[] { "0.5", "0.95" })
        {
            Assert.Contains(expressions, e => e.StartsWith($"histogram_quantile({q},", StringComparison.Ordinal)
                && e.Contains("odiff_tile_step_duration_seconds_bucket")
                && PromQl.GroupingLabels(e).SetEquals(["silo", "device", "le"]));
        }

        // Sync share: sync time over step time.
        Assert.Contains(expressions, e => e.IndexOf("odiff_sync_duration_seconds_sum", StringComparison.Ordinal) is var s and >= 0
            && e.IndexOf('/', s) is var d and >= 0 && e.IndexOf("odiff_step_duration_seconds_sum", d, StringComparison.Ordinal) > d);
    }

    [Fact]
    public void Has_panels_for_recoveries_checkpoints_and_the_model_cache()
    {
        var panels = Panels(Dashboard).Where(p => p["targets"] is JsonArray).ToList();
        JsonObject PanelQuerying(string metric) => panels.Single(p => p["targets"]!.AsArray()
            .Any(t => PromQl.MetricNames((string)t!["expr"]!).Any(n => n.StartsWith(metric, StringComparison.Ordinal))));

        // Recoveries per reason (worker_lost, coordinator_lost, drain): one series per reason, never per job.
        var recoveries = PanelQuerying("odiff_job_recoveries_total");
        var expr = (string)recoveries["targets"]![0]!["expr"]!;
        Assert.Equal(["reason"], PromQl.GroupingLabels(expr));
        Assert.Contains("{{reason}}", (string)recoveries["targets"]![0]!["legendFormat"]!);

        // Checkpoint latency and volume share a panel; so do the model cache and its loads.
        Assert.Same(PanelQuerying("odiff_checkpoint_duration_seconds"), PanelQuerying("odiff_checkpoint_bytes_total"));
        Assert.Same(PanelQuerying("odiff_model_cache_bytes"), PanelQuerying("odiff_model_loads_total"));
        Assert.Contains(PanelQuerying("odiff_checkpoint_duration_seconds")["targets"]!.AsArray(),
            t => ((string)t!["expr"]!).StartsWith("histogram_quantile(0.95,", StringComparison.Ordinal));
    }

    [Fact]
    public void The_contract_names_the_recovery_reasons_the_silo_readme_documents()
    {
        var readme = Repo.Read("silos", "OrleansDiffusion.Silo", "README.md");
        var row = readme.Split('\n').Single(l => l.StartsWith("| `odiff_job_recoveries_total`", StringComparison.Ordinal));
        foreach (var reason in MetricsContract.RecoveryReasons)
        {
            Assert.Contains($"`{reason}`", row);
        }
    }

    [Fact]
    public void Every_query_parses_with_promtool()
    {
        // Grafana's $__rate_interval becomes a plain duration; promtool then checks each query as a recording rule.
        var rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        var i = 0;
        foreach (var (_, expr) in Expressions(Dashboard))
        {
            rules.Append($"      - record: dashboard:query_{++i}\n");
            rules.Append($"        expr: {JsonSerializer.Serialize(expr.Replace("$__rate_interval", "5m", StringComparison.Ordinal))}\n");
        }

        var file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"odiff-dashboard-{Environment.ProcessId}.rules.yml");
        File.WriteAllText(file, rules.ToString());
        try
        {
            var (exit, output) = RunPromtool("check", "rules", file);
            Assert.True(exit == 0, $"promtool check rules failed:\n{output}");
            Assert.Contains($"SUCCESS: {i} rules found", output);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_contract_list_matches_the_silo_host_readme()
    {
        var readme = Repo.PathOf("silos", "OrleansDiffusion.Silo", "README.md");
        Assert.True(File.Exists(readme), $"The silo host's README (the metrics contract) is missing: {readme}");
        var documented = MetricsContract.ReadReadme(File.ReadAllText(readme));
        Assert.Equal(
            MetricsContract.Application.Select(m => $"{m.Name} {m.Kind} {string.Join(",", m.Labels)}").Order(),
            documented.Select(m => $"{m.Name} {m.Kind} {string.Join(",", m.Labels)}").Order());
    }

    [Fact]
    public void The_orleans_instruments_exist_in_the_orleans_version_we_ship()
    {
        // Instrument names are string literals of Orleans.Core (UTF-16 in the user-string heap).
        var assembly = Assembly.Load(new AssemblyName("Orleans.Core"));
        var bytes = File.ReadAllBytes(assembly.Location);
        foreach (var (instrument, kind, prometheus) in MetricsContract.Orleans)
        {
            Assert.True(bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes(instrument)) >= 0, $"Orleans.Core has no instrument {instrument}");
            var expected = instrument.Replace('-', '_') + (kind == MetricsContract.Kind.Counter ? "_total" : "");
            Assert.Equal(expected, prometheus);
        }
    }

    [Theory]
    [InlineData("sum by (silo, device, le) (rate(a_bucket{x=\"y\"}[$__rate_interval]))", "a_bucket", "silo,device,le")]
    [InlineData("sum by (silo) (rate(a_sum[5m])) / sum by (silo) (rate(b_sum[5m]))", "a_sum,b_sum", "silo")]
    [InlineData("topk(10, sum by (tile_row, tile_col) (rate(c_total[1m])))", "c_total", "tile_row,tile_col")]
    [InlineData("histogram_quantile(0.95, sum without (pod) (rate(d_bucket[5m]))) > bool 0", "d_bucket", "pod")]
    public void PromQl_reader_finds_metrics_and_grouping_labels(string expr, string metrics, string labels)
    {
        Assert.Equal(metrics.Split(',').Order(), PromQl.MetricNames(expr).Order());
        Assert.Equal(labels.Split(',').Order(), PromQl.GroupingLabels(expr).Order());
    }

    private static void AssertVariableDatasource(JsonNode? datasource, string where)
    {
        Assert.NotNull(datasource);
        Assert.Equal("prometheus", (string?)datasource["type"]);
        Assert.True((string?)datasource["uid"] is "${datasource}" or "$datasource", $"{where} has a hard-coded datasource");
    }

    private static IEnumerable<(string Path, string Value)> StringsNamed(JsonNode node, string name, string path = "$")
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o)
                {
                    if (key == name && child is JsonValue v && v.TryGetValue<string>(out var s))
                    {
                        yield return ($"{path}.{key}", s);
                    }
                    else if (child is not null)
                    {
                        foreach (var found in StringsNamed(child, name, $"{path}.{key}"))
                        {
                            yield return found;
                        }
                    }
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (a[i] is { } child)
                    {
                        foreach (var found in StringsNamed(child, name, $"{path}[{i}]"))
                        {
                            yield return found;
                        }
                    }
                }

                break;
        }
    }

    private static (int Exit, string Output) RunPromtool(params string[] args)
    {
        var start = new ProcessStartInfo("promtool") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "promtool ran for more than 30 s");
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                "This test checks the dashboard's PromQL with promtool, which was not found on PATH " +
                $"({e.Message}). Install it (Debian/Ubuntu: apt-get install prometheus) and run again.", e);
        }
    }
}
