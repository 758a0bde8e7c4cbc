using System.Diagnostics.Metrics;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains;

/// <summary>Instrument names, in one place (Prometheus adds unit suffixes and _total; see the silo README).</summary>
public static class MetricNames
{
    public const string Meter = "OrleansDiffusion";
    public const string TileSteps = "odiff.tile.steps";
    public const string TileStepDuration = "odiff.tile.step.duration";
    public const string ForwardPasses = "odiff.forward.passes";
    public const string BatchSize = "odiff.batch.size";
    public const string DeviceQueueLength = "odiff.device.queue.length";
    public const string DeviceMemory = "odiff.device.memory";
    public const string SyncDuration = "odiff.sync.duration";
    public const string StepDuration = "odiff.step.duration";
    public const string SyncBytes = "odiff.sync.bytes";
    public const string Jobs = "odiff.jobs";
    public const string OutputsWritten = "odiff.outputs.written";
    public const string OutputBytes = "odiff.output.bytes";
    public const string JobRecoveries = "odiff.job.recoveries";
    public const string CheckpointDuration = "odiff.checkpoint.duration";
    public const string CheckpointBytes = "odiff.checkpoint.bytes";
    public const string ModelLoads = "odiff.model.loads";
    public const string ModelCacheBytes = "odiff.model.cache.bytes";
}

/// <summary>Why a job recovered (the <c>reason</c> label of <see cref="MetricNames.JobRecoveries"/>).</summary>
public static class RecoveryReasons
{
    /// <summary>Tiles were lost with their silo (killed, or drained on shutdown) and re-created elsewhere.</summary>
    public const string WorkerLost = "worker_lost";

    /// <summary>The job's coordinator was lost and the job resumed from its checkpoint on another activation.</summary>
    public const string CoordinatorLost = "coordinator_lost";
}

/// <summary>The application meter. Labels are bounded: tile grid position, silo, device, job state — never a job id.</summary>
public sealed class DiffusionMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _tileSteps;
    private readonly Histogram<double> _tileStepDuration;
    private readonly Counter<long> _forwardPasses;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _syncDuration;
    private readonly Histogram<double> _stepDuration;
    private readonly Counter<long> _syncBytes;
    private readonly UpDownCounter<long> _jobs;
    private readonly Counter<long> _outputsWritten;
    private readonly Counter<long> _outputBytes;
    private readonly Counter<long> _recoveries;
    private readonly Histogram<double> _checkpointDuration;
    private readonly Counter<long> _checkpointBytes;

    public DiffusionMetrics(IMeterFactory meters, string silo, DeviceExecutorPool? devices = null)
    {
        Silo = silo;
        _meter = meters.Create(MetricNames.Meter);
        _tileSteps = _meter.CreateCounter<long>(MetricNames.TileSteps, "{step}", "Tile denoise steps completed");
        _tileStepDuration = _meter.CreateHistogram<double>(MetricNames.TileStepDuration, "s", "Tile step latency (forward pass share and transfer)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _forwardPasses = _meter.CreateCounter<long>(MetricNames.ForwardPasses, "{pass}", "Denoiser forward passes");
        _batchSize = _meter.CreateHistogram<int>(MetricNames.BatchSize, "{tile}", "Tiles per forward pass",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64] });
        _syncDuration = _meter.CreateHistogram<double>(MetricNames.SyncDuration, "s", "Coordinator sync time per step",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        _stepDuration = _meter.CreateHistogram<double>(MetricNames.StepDuration, "s", "Wall time of a whole step on the coordinator",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _syncBytes = _meter.CreateCounter<long>(MetricNames.SyncBytes, "By", "Payload bytes between coordinator and tiles");
        _jobs = _meter.CreateUpDownCounter<long>(MetricNames.Jobs, "{job}", "Jobs on this silo's coordinators by state");
        _outputsWritten = _meter.CreateCounter<long>(MetricNames.OutputsWritten, "{file}", "Images written to the output store");
        _outputBytes = _meter.CreateCounter<long>(MetricNames.OutputBytes, "By", "Bytes written to the output store");
        _recoveries = _meter.CreateCounter<long>(MetricNames.JobRecoveries, "{recovery}", "Jobs recovered from a lost worker or coordinator");
        _checkpointDuration = _meter.CreateHistogram<double>(MetricNames.CheckpointDuration, "s", "Time to write one job checkpoint",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _checkpointBytes = _meter.CreateCounter<long>(MetricNames.CheckpointBytes, "By", "Bytes written to job checkpoints");
        if (devices is not null)
        {
            _meter.CreateObservableGauge(MetricNames.DeviceQueueLength, () => devices.Executors.Select(e =>
                new Measurement<int>(e.QueueLength, Tag("silo", silo), Tag("device", e.Name))), "{request}", "Requests waiting for the device");
            _meter.CreateObservableGauge(MetricNames.DeviceMemory, () => devices.Executors.Select(e =>
                new Measurement<long>(DeviceMemory(e), Tag("silo", silo), Tag("device", e.Name))), "By", "Device memory in use");
            _meter.CreateObservableCounter(MetricNames.ModelLoads, () => devices.ModelCaches.Select(c =>
                new Measurement<long>(c.Value.Loads, Tag("silo", silo), Tag("device", c.Key))), "{load}", "Models loaded onto a device");
            _meter.CreateObservableGauge(MetricNames.ModelCacheBytes, () => devices.ModelCaches.Select(c =>
                new Measurement<long>(c.Value.CachedBytes, Tag("silo", silo), Tag("device", c.Key))), "By", "Bytes of models loaded on a device");
            foreach (var executor in devices.Executors)
                executor.ForwardPassCompleted += (e, batch, _) =>
                {
                    _forwardPasses.Add(1, Tag("silo", silo), Tag("device", e.Name));
                    _batchSize.Record(batch, Tag("silo", silo), Tag("device", e.Name));
                };
        }
    }

    public string Silo { get; }

    public void RecordTileStep(TileWindow window, string device, double seconds)
    {
        KeyValuePair<string, object?>[] tags = [Tag("tile_row", window.Row), Tag("tile_col", window.Column), Tag("silo", Silo), Tag("device", device)];
        _tileSteps.Add(1, tags);
        _tileStepDuration.Record(seconds, tags);
    }

    public void RecordCoordinatorStep(double stepSeconds, double syncSeconds, long bytes)
    {
        _stepDuration.Record(stepSeconds, Tag("silo", Silo));
        _syncDuration.Record(syncSeconds, Tag("silo", Silo));
        _syncBytes.Add(bytes, Tag("silo", Silo));
    }

    public void JobStateChanged(JobState? from, JobState to)
    {
        if (from is { } previous) _jobs.Add(-1, Tag("state", previous.ToString().ToLowerInvariant()));
        _jobs.Add(1, Tag("state", to.ToString().ToLowerInvariant()));
    }

    /// <summary>A job's coordinator left this silo (deactivated or handed off) while the job was in <paramref name="state"/>.</summary>
    public void JobStateLeft(JobState state) => _jobs.Add(-1, Tag("state", state.ToString().ToLowerInvariant()));

    public void RecordOutput(long bytes)
    {
        _outputsWritten.Add(1, Tag("silo", Silo));
        _outputBytes.Add(bytes, Tag("silo", Silo));
    }

    public void RecordRecovery(string reason) => _recoveries.Add(1, Tag("reason", reason));

    public void RecordCheckpoint(double seconds, long bytes)
    {
        _checkpointDuration.Record(seconds, Tag("silo", Silo));
        _checkpointBytes.Add(bytes, Tag("silo", Silo));
    }

    /// <summary>CPU devices report the process working set (all tensors live there); CUDA devices report 0 until
    /// TorchSharp exposes the CUDA caching allocator's counters.</summary>
    private static long DeviceMemory(DeviceExecutor executor) =>
        executor.Device.type == TorchSharp.DeviceType.CPU ? Environment.WorkingSet : 0;

    private static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);

    public void Dispose() => _meter.Dispose();
}
