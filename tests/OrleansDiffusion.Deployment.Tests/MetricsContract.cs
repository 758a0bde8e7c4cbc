using System.Text.RegularExpressions;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>The metrics the dashboard may query: the silo host's contract, and a few Orleans instruments.</summary>
internal static partial class MetricsContract
{
    public enum Kind
    {
        Counter,
        Gauge,
        Histogram,
    }

    /// <summary>
    /// The table "Metrics (Prometheus, /metrics)" of silos/OrleansDiffusion.Silo/README.md, the silo host's
    /// contract. A test keeps the two equal.
    /// </summary>
    public static readonly IReadOnlyList<(string Name, Kind Kind, string[] Labels)> Application =
    [
        ("odiff_tile_steps_total", Kind.Counter, ["tile_row", "tile_col", "silo", "device"]),
        ("odiff_tile_step_duration_seconds", Kind.Histogram, ["tile_row", "tile_col", "silo", "device"]),
        ("odiff_forward_passes_total", Kind.Counter, ["silo", "device"]),
        ("odiff_batch_size", Kind.Histogram, ["silo", "device"]),
        ("odiff_device_queue_length", Kind.Gauge, ["silo", "device"]),
        ("odiff_device_memory_bytes", Kind.Gauge, ["silo", "device"]),
        ("odiff_sync_duration_seconds", Kind.Histogram, ["silo"]),
        ("odiff_step_duration_seconds", Kind.Histogram, ["silo"]),
        ("odiff_sync_bytes_total", Kind.Counter, ["silo"]),
        ("odiff_jobs", Kind.Gauge, ["state"]),
        ("odiff_outputs_written_total", Kind.Counter, ["silo"]),
        ("odiff_output_bytes_total", Kind.Counter, ["silo"]),
        ("odiff_job_recoveries_total", Kind.Counter, ["reason"]),
        ("odiff_checkpoint_duration_seconds", Kind.Histogram, ["silo"]),
        ("odiff_checkpoint_bytes_total", Kind.Counter, ["silo"]),
        ("odiff_model_loads_total", Kind.Counter, ["silo", "device"]),
        ("odiff_model_cache_bytes", Kind.Gauge, ["silo", "device"]),
    ];

    /// <summary>
    /// Instruments of the Microsoft.Orleans meter (Orleans.Core, InstrumentNames) the dashboard uses, and how
    /// the OpenTelemetry Prometheus exporter names them: '-' becomes '_', counters get _total (none of these
    /// has a unit, so no unit suffix).
    /// </summary>
    public static readonly IReadOnlyList<(string Instrument, Kind Kind, string Prometheus)> Orleans =
    [
        ("orleans-catalog-activations", Kind.Gauge, "orleans_catalog_activations"),
        ("orleans-catalog-activation-failed-to-activate", Kind.Counter, "orleans_catalog_activation_failed_to_activate_total"),
        ("orleans-messaging-sent-failed", Kind.Counter, "orleans_messaging_sent_failed_total"),
        ("orleans-messaging-rejected", Kind.Counter, "orleans_messaging_rejected_total"),
        ("orleans-app-requests-timedout", Kind.Counter, "orleans_app_requests_timedout_total"),
    ];

    /// <summary>The values of <c>reason</c> on <c>odiff_job_recoveries_total</c> (bounded; the silo README lists them).</summary>
    public static readonly string[] RecoveryReasons = ["worker_lost", "coordinator_lost", "drain"];

    /// <summary>Labels Prometheus attaches to every scraped series.</summary>
    public static readonly string[] TargetLabels = ["instance", "job", "namespace", "pod"];

    /// <summary>Every series name a query may use: histograms as _bucket, _sum and _count.</summary>
    public static IReadOnlySet<string> SeriesNames() =>
        Application.SelectMany(m => m.Kind == Kind.Histogram
                ? new[] { m.Name + "_bucket", m.Name + "_sum", m.Name + "_count" }
                : [m.Name])
            .Concat(Orleans.Select(o => o.Prometheus))
            .ToHashSet();

    /// <summary>Reads the metrics table of the silo host's README.</summary>
    public static IReadOnlyList<(string Name, Kind Kind, string[] Labels)> ReadReadme(string markdown)
    {
        var rows = new List<(string, Kind, string[])>();
        foreach (var line in markdown.Split('\n'))
        {
            var cells = line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            if (cells.Length != 3 || !cells[0].StartsWith("`odiff_", StringComparison.Ordinal))
            {
                continue;
            }

            var kind = cells[1] switch
            {
                var t when t.StartsWith("counter", StringComparison.Ordinal) => Kind.Counter,
                var t when t.StartsWith("gauge", StringComparison.Ordinal) => Kind.Gauge,
                var t when t.StartsWith("histogram", StringComparison.Ordinal) => Kind.Histogram,
                var t => throw new FormatException($"Unknown metric type '{t}' in: {line}"),
            };
            var labels = cells[2].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (Match name in CodeSpan().Matches(cells[0]))
            {
                rows.Add((name.Groups[1].Value, kind, labels));
            }
        }

        return rows;
    }

    [GeneratedRegex("`([a-z0-9_]+)`")]
    private static partial Regex CodeSpan();
}
