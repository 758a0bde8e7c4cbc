using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>
/// Runs a job on the real two-silo cluster, scrapes both silos' /metrics, and checks that every series the
/// Grafana dashboard queries exists, with bounded labels, and that <c>promtool check metrics</c> accepts the scrape.
/// </summary>
[Collection(MultiProcessCluster.Name)]
public sealed partial class MetricsScrapeTests(RedisAndSilosFixture cluster)
{
    private static readonly string Dashboard = Path.Combine(BuiltPrograms.RepoRoot, "k8s", "base", "dashboards", "orleans-diffusion.json");

    /// <summary>Orleans counters the dashboard's "failed calls" panel reads; OpenTelemetry exports a counter only
    /// once it has been incremented, and a healthy test run has no failures. Their names are checked against
    /// Orleans.Core by the deployment tests.</summary>
    internal static readonly HashSet<string> FailureCounters =
    [
        "orleans_messaging_sent_failed_total", "orleans_app_requests_timedout_total", "orleans_messaging_rejected_total",
        "orleans_catalog_activation_failed_to_activate_total",
        // Ours that count events a short healthy job has none of: a recovery, a checkpoint (the job here has fewer steps
        // than the checkpoint interval). The RecoveryTests cluster produces both. The model cache's two series are not
        // exported yet: there is no per-silo model cache yet (each job still loads its model per device).
        "odiff_job_recoveries_total", "odiff_checkpoint_duration_seconds", "odiff_checkpoint_bytes_total",
        "odiff_checkpoint_duration_seconds_bucket", "odiff_model_cache_bytes", "odiff_model_loads_total",
    ];

    [Fact]
    public async Task Every_metric_the_dashboard_queries_is_exported_after_a_job()
    {
        await RunJobAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var worker = await http.GetStringAsync(new Uri($"http://127.0.0.1:{cluster.WorkerHttpPort}/metrics"));
        var coordinator = await http.GetStringAsync(new Uri($"http://127.0.0.1:{cluster.CoordinatorHttpPort}/metrics"));
        var exported = SeriesNames(worker).Concat(SeriesNames(coordinator)).ToHashSet();

        var queried = DashboardMetricNames();
        Assert.NotEmpty(queried);
        // A histogram is exported as _bucket/_sum/_count series; Orleans' failure counters appear only after a first failure.
        var missing = queried.Where(name => !exported.Contains(name) && !exported.Contains(name + "_bucket") && !FailureCounters.Contains(name)).ToList();
        Assert.True(missing.Count == 0, $"dashboard queries metrics no silo exports: {string.Join(", ", missing)}");

        // Per-tile series carry the grid position, the silo and the device, and never a job id.
        var tileSeries = worker.Split('\n').Where(l => l.StartsWith("odiff_tile_steps_total{", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(tileSeries);
        Assert.All(tileSeries, line =>
        {
            Assert.Matches(@"tile_row=""\d+""", line);
            Assert.Matches(@"tile_col=""\d+""", line);
            Assert.Contains(@"silo=""e2e-worker""", line);
            Assert.Contains(@"device=""cpu""", line);
        });
        Assert.DoesNotContain("job", string.Join("\n", worker.Split('\n').Where(l => l.StartsWith("odiff_", StringComparison.Ordinal))), StringComparison.OrdinalIgnoreCase);

        foreach (var (name, scrape) in new[] { ("worker", worker), ("coordinator", coordinator) })
        {
            // Our own families must pass promtool's lint outright.
            var (exitCode, report) = await PromtoolCheckAsync(OwnFamilies(scrape));
            Assert.True(exitCode == 0, $"promtool check metrics rejected the {name} scrape's odiff_* families:\n{report}");
            // The whole scrape must parse; the only lint findings allowed are Orleans' own instruments
            // (no help text, milliseconds), which this project does not define.
            (_, report) = await PromtoolCheckAsync(scrape);
            var foreign = report.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("orleans_", StringComparison.Ordinal)).ToList();
            Assert.True(foreign.Count == 0, $"promtool on the whole {name} scrape:\n{string.Join("\n", foreign)}");
        }
    }

    private async Task RunJobAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseDiffusionClient(o =>
        {
            o.Gateway = $"127.0.0.1:{cluster.GatewayPort}";
            o.ClusterId = cluster.ClusterId;
        });
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await host.StartAsync(timeout.Token);
        var status = await host.Services.GetRequiredService<DiffusionClient>().RunAsync(
            new JobSpec { Prompt = "clouds", Width = 128, Height = 128, Steps = 3, Tile = 64, Overlap = 16 }, cancellationToken: timeout.Token);
        Assert.True(status.State == JobState.Completed, status.Error);
        await host.StopAsync(timeout.Token);
    }

    /// <summary>Metric names the dashboard's PromQL uses (odiff_* and orleans_*), as exported series names.</summary>
    private static HashSet<string> DashboardMetricNames()
    {
        var json = File.ReadAllText(Dashboard);
        return MetricReference().Matches(json).Select(m => m.Value).ToHashSet();
    }

    /// <summary>The exposition lines (HELP, TYPE, samples) of the odiff_* families only.</summary>
    private static string OwnFamilies(string exposition) => string.Join("\n", exposition.Split('\n')
        .Where(l => l.StartsWith("odiff_", StringComparison.Ordinal) || l.StartsWith("# HELP odiff_", StringComparison.Ordinal)
            || l.StartsWith("# TYPE odiff_", StringComparison.Ordinal) || l.StartsWith("# UNIT odiff_", StringComparison.Ordinal))) + "\n";

    private static IEnumerable<string> SeriesNames(string exposition) =>
        exposition.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => SeriesName().Match(l).Value);

    private static async Task<(int ExitCode, string Report)> PromtoolCheckAsync(string exposition)
    {
        var promtool = BuiltPrograms.FindExecutable("promtool")
            ?? throw new InvalidOperationException("promtool is not installed; tests/run.sh installs it (apt-get install prometheus).");
        var info = new ProcessStartInfo(promtool) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("check");
        info.ArgumentList.Add("metrics");
        using var process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    [GeneratedRegex(@"\b(odiff|orleans)_[a-z0-9_]+")]
    private static partial Regex MetricReference();

    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex SeriesName();
}
