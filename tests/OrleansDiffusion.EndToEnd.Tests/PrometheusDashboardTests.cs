using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>
/// The Grafana dashboard against a real Prometheus: Debian's <c>prometheus</c> scrapes the multi-process cluster's
/// worker and coordinator <c>/metrics</c> every second; after a job, every dashboard query is evaluated through
/// Prometheus' HTTP API (<c>/api/v1/query</c>) and must return data, except the event-only counters that a healthy
/// short job never increments (<see cref="MetricsScrapeTests.FailureCounters"/>).
/// </summary>
[Collection(MultiProcessCluster.Name)]
public sealed partial class PrometheusDashboardTests(RedisAndSilosFixture cluster)
{
    private static readonly string Dashboard = Path.Combine(BuiltPrograms.RepoRoot, "k8s", "base", "dashboards", "orleans-diffusion.json");

    [Fact]
    public async Task Every_dashboard_query_returns_data_from_prometheus_after_a_job()
    {
        using var prometheus = await PrometheusProcess.StartAsync([cluster.WorkerHttpPort, cluster.CoordinatorHttpPort]);
        await prometheus.WaitForTargetsUpAsync(2);

        await RunJobAsync();
        var jobEnd = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        await prometheus.WaitForScrapeAfterAsync(jobEnd + 1);

        // $__rate_interval: a window from Prometheus' start to now, so rates span the whole job.
        var window = $"{(int)Math.Ceiling(prometheus.Uptime.TotalSeconds) + 5}s";
        var failures = new List<string>();
        var evaluated = 0;
        foreach (var query in DashboardQueries())
        {
            var metrics = MetricReference().Matches(query).Select(m => StripSuffix(m.Value)).ToHashSet();
            if (metrics.Count > 0 && metrics.All(m => MetricsScrapeTests.FailureCounters.Contains(m) || MetricsScrapeTests.FailureCounters.Contains(m + "_bucket")))
                continue;
            var expression = query.Replace("$__rate_interval", window, StringComparison.Ordinal);
            var (status, results, error) = await prometheus.QueryAsync(expression);
            evaluated++;
            if (status != "success") failures.Add($"{expression}: {status} {error}");
            else if (results == 0) failures.Add($"{expression}: no data");
        }
        Assert.True(evaluated >= 15, $"only {evaluated} dashboard queries evaluated");
        Assert.True(failures.Count == 0, $"dashboard queries without data in Prometheus:\n{string.Join("\n", failures)}\n{prometheus.Tail()}");
    }

    private static string StripSuffix(string metric)
    {
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
            if (metric.EndsWith(suffix, StringComparison.Ordinal)) return metric[..^suffix.Length];
        return metric;
    }

    /// <summary>Every panel target's PromQL, nested rows included.</summary>
    private static List<string> DashboardQueries()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var queries = new List<string>();
        void Walk(JsonElement panels)
        {
            foreach (var panel in panels.EnumerateArray())
            {
                if (panel.TryGetProperty("targets", out var targets))
                    foreach (var target in targets.EnumerateArray())
                        if (target.TryGetProperty("expr", out var expr) && expr.GetString() is { Length: > 0 } text) queries.Add(text);
                if (panel.TryGetProperty("panels", out var nested)) Walk(nested);
            }
        }
        Walk(json.RootElement.GetProperty("panels"));
        return queries;
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
        // Long enough for several 1 s scrapes while it runs, so rates and histograms move.
        var status = await host.Services.GetRequiredService<DiffusionClient>().RunAsync(
            new JobSpec { Prompt = "clouds", Width = 128, Height = 128, Steps = 6, Tile = 64, Overlap = 16 }, cancellationToken: timeout.Token);
        Assert.True(status.State == JobState.Completed, status.Error);
        await host.StopAsync(timeout.Token);
    }

    [GeneratedRegex(@"\b(odiff|orleans)_[a-z0-9_]+")]
    private static partial Regex MetricReference();
}

/// <summary>A <c>prometheus</c> server on a free loopback port with its TSDB in a temporary folder, killed on dispose.</summary>
internal sealed class PrometheusProcess : IDisposable
{
    private readonly ChildProcess _process;
    private readonly string _folder;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private PrometheusProcess(ChildProcess process, string folder, int port)
    {
        (_process, _folder) = (process, folder);
        _http.BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public TimeSpan Uptime => _clock.Elapsed;

    public static async Task<PrometheusProcess> StartAsync(IEnumerable<int> metricsPorts)
    {
        var binary = BuiltPrograms.FindExecutable("prometheus")
            ?? throw new InvalidOperationException("prometheus is not installed; tests/run.sh installs it (apt-get install prometheus).");
        var folder = Directory.CreateTempSubdirectory("odiff-prometheus-").FullName;
        var targets = string.Join(", ", metricsPorts.Select(p => $"'127.0.0.1:{p}'"));
        var config = Path.Combine(folder, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: odiff
                metrics_path: /metrics
                static_configs:
                  - targets: [{targets}]
            """);
        var port = BuiltPrograms.FreePort();
        var process = ChildProcess.Start("prometheus", binary,
            [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(folder, "data")}", $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            workingDirectory: folder);
        var prometheus = new PrometheusProcess(process, folder, port);
        try
        {
            await prometheus.WaitUntilAsync("/-/ready", async () =>
            {
                using var response = await prometheus._http.GetAsync(new Uri("/-/ready", UriKind.Relative));
                return response.IsSuccessStatusCode;
            });
            return prometheus;
        }
        catch
        {
            prometheus.Dispose();
            throw;
        }
    }

    /// <summary>Until <paramref name="count"/> targets report up = 1.</summary>
    public Task WaitForTargetsUpAsync(int count) =>
        WaitUntilAsync($"{count} targets up", async () => await ScalarAsync("sum(up)") >= count);

    /// <summary>Until every target has been scraped at or after <paramref name="unixSeconds"/>.</summary>
    public Task WaitForScrapeAfterAsync(double unixSeconds) =>
        WaitUntilAsync("a scrape after the job", async () => await ScalarAsync("min(timestamp(up))") >= unixSeconds);

    /// <summary>Evaluates an instant query now: status, number of series (or 1 for a scalar), error text.</summary>
    public async Task<(string Status, int Results, string? Error)> QueryAsync(string expression)
    {
        using var response = await _http.GetAsync(new Uri($"/api/v1/query?query={Uri.EscapeDataString(expression)}", UriKind.Relative));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        var status = root.GetProperty("status").GetString() ?? "";
        if (status != "success") return (status, 0, root.TryGetProperty("error", out var error) ? error.GetString() : null);
        var data = root.GetProperty("data");
        var result = data.GetProperty("result");
        return (status, result.ValueKind == JsonValueKind.Array ? result.GetArrayLength() : 1, null);
    }

    public string Tail() => _process.Tail(20);

    private async Task<double> ScalarAsync(string expression)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri($"/api/v1/query?query={Uri.EscapeDataString(expression)}", UriKind.Relative));
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var result = json.RootElement.GetProperty("data").GetProperty("result");
            if (result.GetArrayLength() == 0) return double.NaN;
            return double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            return double.NaN;
        }
    }

    private async Task WaitUntilAsync(string what, Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            if (_process.HasExited) throw new InvalidOperationException($"prometheus exited ({_process.ExitCode}) before {what}\n{_process.Tail()}");
            if (clock.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException($"prometheus: {what} not reached in 2 minutes\n{_process.Tail()}");
            await Task.Delay(250);
        }
    }

    public void Dispose()
    {
        _process.Dispose();
        _http.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
