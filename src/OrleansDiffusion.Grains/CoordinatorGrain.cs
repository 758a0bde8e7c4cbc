using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Grains;

/// <summary>
/// One per job: hosts the engine (the one step loop) over the job's tile grains, reports progress, supports
/// cancellation, and writes the PNG to the output store. The engine runs off the grain scheduler so status
/// queries and cancellation are answered while a step computes; state is shared through one immutable record.
/// </summary>
public sealed partial class CoordinatorGrain(IOptions<OutputStoreOptions> store, DiffusionMetrics metrics, ILogger<CoordinatorGrain> logger)
    : Grain, ICoordinatorGrain
{
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _cancellation = new();
    private JobStatus? _status;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IJobRegistryGrain Registry => GrainFactory.GetGrain<IJobRegistryGrain>(0);

    private string JobId => this.GetPrimaryKeyString();

    public async Task<JobStatus> StartAsync(JobSpec spec)
    {
        var current = await GetStatusAsync();
        if (current is not null)
        {
            if (current.Spec != spec) throw new InvalidJobException("job", $"job '{JobId}' already exists with another spec");
            return current;
        }
        JobSpecValidator.EnsureValid(spec);
        var sync = JobComponents.CreateSync(spec.Sync);
        var (channels, maxHalo, latentScale) = JobComponents.DenoiserShape(spec);
        var plan = JobComponents.Plan(spec, channels, maxHalo, sync, latentScale);
        var status = new JobStatus { JobId = JobId, Spec = spec, State = JobState.Queued, Tiles = plan.Layout.Count, CreatedAt = DateTimeOffset.UtcNow };
        Publish(status);
        await Registry.RecordAsync(status);
        DelayDeactivation(TimeSpan.FromDays(1));
        var grains = GrainFactory;
        _ = Task.Run(() => RunAsync(grains, plan, sync));
        return status;
    }

    public async Task<JobStatus?> GetStatusAsync()
    {
        JobStatus? status;
        lock (_lock) status = _status;
        if (status is not null) return status;
        // After this activation was collected, the registry still knows the job.
        status = await Registry.GetAsync(JobId);
        if (status is not null)
            lock (_lock) _status ??= status;
        return status;
    }

    public async Task<JobStatus?> WaitForProgressAsync(int afterStep, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Task changed;
            lock (_lock) changed = _changed.Task;
            var status = await GetStatusAsync();
            if (status is null || status.IsFinished || status.Step > afterStep) return status;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return status;
            await Task.WhenAny(changed, Task.Delay(left));
        }
    }

    public Task CancelAsync()
    {
        _cancellation.Cancel();
        return Task.CompletedTask;
    }

    public async Task<byte[]> ReadOutputAsync(long offset, int count)
    {
        var status = await GetStatusAsync();
        if (status?.State != JobState.Completed || status.OutputPath is null)
            throw new InvalidOperationException($"job '{JobId}' has no output (state {status?.State.ToString() ?? "unknown"})");
        await using var file = File.OpenRead(status.OutputPath);
        if (offset >= file.Length) return [];
        file.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[(int)Math.Min(Math.Clamp(count, 1, 4 << 20), file.Length - offset)];
        await file.ReadExactlyAsync(buffer);
        return buffer;
    }

    /// <summary>Runs on the thread pool: the engine, then the output write.</summary>
    private async Task RunAsync(IGrainFactory grains, JobPlan plan, Diffusion.Sync.ISyncMode sync)
    {
        Func<JobStatus, JobStatus> finish;
        var runtime = new GrainTileRuntime(grains, JobId, epoch: 1);
        try
        {
            Update(s => s with { State = JobState.Running });
            await RecordAsync(grains);
            var previous = new StepProgress(0, plan.Steps, plan.Layout.Count, 0, 0, 0);
            byte[]? preview = null;
            var progress = new StepReporter(p =>
            {
                Update(s => s with
                {
                    Step = p.Step,
                    ElapsedSeconds = p.ElapsedSeconds,
                    LastStepDenoiseSeconds = p.DenoiseSeconds - previous.DenoiseSeconds,
                    LastStepSyncSeconds = p.SyncSeconds - previous.SyncSeconds,
                    Preview = preview ?? s.Preview,
                });
                metrics.RecordCoordinatorStep(p.ElapsedSeconds - previous.ElapsedSeconds, p.SyncSeconds - previous.SyncSeconds, p.Bytes - previous.Bytes);
                previous = p;
            });
            EngineResult result;
            await using (runtime)
                result = await new TiledDiffusionEngine(sync).RunAsync(plan, runtime, progress, cancellationToken: _cancellation.Token);
            using (result)
            using (var image = Decode(plan, result.Canvas))
            {
                var path = Path.GetFullPath(Path.Combine(store.Value.Directory, $"{JobId}.png"));
                PngWriter.Write(path, image, PngBitDepth.Eight, GenerationParameters.Format(plan.Spec, JobComponents.DenoiserName(plan.Spec)));
                var bytes = new FileInfo(path).Length;
                metrics.RecordOutput(bytes);
                var (statistics, placement, seam) = (result.Statistics with { Silos = runtime.Silos }, runtime.Locations, SeamScore.Compute(image));
                finish = s => s with
                {
                    State = JobState.Completed,
                    Statistics = statistics,
                    TilePlacement = placement,
                    OutputPath = path,
                    OutputBytes = bytes,
                    SeamScore = seam,
                    ElapsedSeconds = statistics.Seconds,
                };
            }
        }
        catch (OperationCanceledException)
        {
            finish = s => s with { State = JobState.Cancelled };
        }
        catch (Exception e)
        {
            LogJobFailed(logger, e, JobId);
            finish = s => s with { State = JobState.Failed, Error = e.Message };
        }
        // The registry learns the final state before watchers do: whoever sees "completed" finds it listed.
        JobStatus final;
        lock (_lock) final = finish(_status!);
        try
        {
            await grains.GetGrain<IJobRegistryGrain>(0).RecordAsync(final);
        }
        finally
        {
            Publish(final);
        }
    }

    /// <summary>A latent canvas (Stable Diffusion) is decoded here with the model's VAE (tiled, GroupNorm statistics
    /// pooled over tiles); a pixel canvas is the image already.</summary>
    private static TorchSharp.torch.Tensor Decode(JobPlan plan, TorchSharp.torch.Tensor canvas)
    {
        if (plan.LatentScale == 1) return canvas.alias();
        using var model = JobComponents.CreateDenoiser(plan.Spec);
        return ((Diffusion.Denoisers.ILatentDecoder)model).Decode(canvas);
    }

    private async Task RecordAsync(IGrainFactory grains)
    {
        JobStatus status;
        lock (_lock) status = _status!;
        await grains.GetGrain<IJobRegistryGrain>(0).RecordAsync(status);
    }

    private void Update(Func<JobStatus, JobStatus> change)
    {
        lock (_lock) Publish(change(_status!));
    }

    private void Publish(JobStatus status)
    {
        lock (_lock)
        {
            if (_status?.State != status.State) metrics.JobStateChanged(_status?.State, status.State);
            _status = status;
            _changed.TrySetResult();
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} failed")]
    private static partial void LogJobFailed(ILogger logger, Exception exception, string jobId);

    private sealed class StepReporter(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }
}
