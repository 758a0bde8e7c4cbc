using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Grains;

/// <summary>
/// One per job (key: the job id): owns the job's durable record and runs the engine (the one step loop) over the
/// job's tile grains, on the grain scheduler; only sync math, previews, checkpoint encoding and the final image run
/// on the thread pool. Every <see cref="JobOptions.CheckpointEvery"/> steps the synced tile states go to the
/// checkpoint store. A reminder re-activates the grain if its silo is lost; the new activation resumes from the
/// checkpoint at the next epoch (older epochs' tiles are released, and their calls refused). Between checkpoint steps
/// only bands travel (<see cref="BandSchedule"/>); lost tiles are re-created by the tile runtime from the last full
/// exchange.
/// </summary>
public sealed partial class CoordinatorGrain(
    [PersistentState(CoordinatorGrain.RecordName, StorageNames.Jobs)] IPersistentState<JobRecord> record,
    IOptions<JobOptions> jobOptions,
    IOptions<OutputStoreOptions> storeOptions,
    OutputStore outputs,
    CheckpointStore checkpoints,
    DiffusionMetrics metrics,
    ILocalSiloDetails silo,
    ILogger<CoordinatorGrain> logger)
    : Grain, ICoordinatorGrain, IRemindable, ITileRuntimeEvents, IStepObserver, IProgress<StepProgress>
{
    /// <summary>The grain state name of the job record.</summary>
    public const string RecordName = "job";

    private const string ResumeReminder = "resume";
    private const int ReminderAttempts = 5; // 1 + 2 + 4 + 8 s of waits between them
    private readonly JobOptions _options = jobOptions.Value;
    private CancellationTokenSource? _cancel;
    private Task? _run;
    private bool _handingOff;
    private JobState? _countedState;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _leavingQueue;  // FinishAsync is between the final state and freeing the job's queue place
    private readonly Stopwatch _runClock = new();

    // Live progress of the run in this activation (not persisted: a resumed run starts again from its checkpoint).
    private int? _step;
    private StepProgress? _lastProgress;
    private double _lastDenoise, _lastSync;
    private byte[]? _preview;
    private PreviewMosaic? _mosaic;
    private Stopwatch? _previewClock;
    private static readonly TimeSpan PreviewInterval = TimeSpan.FromSeconds(1);
    private TileDetail[]? _tiles;
    private string? _detail;

    private string JobId => this.GetPrimaryKeyString();
    private bool Exists => record.RecordExists && record.State.Spec is not null;
    private IJobIndexGrain Index => GrainFactory.GetGrain<IJobIndexGrain>(0);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A job that is not finished but has no run here lost its coordinator (silo death or shutdown): resume it.
        if (Exists && !record.State.IsFinished) StartRun(resumed: true);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_run is { IsCompleted: false } run)
        {
            // Shutting down: the reminder resumes the job on another coordinator from its checkpoint.
            _handingOff = true;
            _cancel?.Cancel();
            LogHandingOff(logger, JobId, reason.ReasonCode);
            await run.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Current);
        }
        if (_countedState is { } counted) metrics.JobStateLeft(counted);
    }

    public async Task<JobStatus> SubmitAsync(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        OutputStore.CheckedId(JobId); // the key is client-supplied too
        if (Exists)
        {
            if (record.State.Spec != spec) throw new InvalidJobException("job-id", $"job '{JobId}' already exists with another spec");
            return Status();
        }
        var errors = JobSpecValidator.ValidateForCluster(spec);
        if (errors.Count > 0) throw new InvalidJobException(errors);
        var plan = PlanOf(spec); // checks the model against the store, before anything is recorded
        var now = DateTimeOffset.UtcNow;
        await Index.AdmitAsync(JobId, now, _options.MaxQueuedJobs);
        record.State = new JobRecord { Spec = spec, State = JobState.Queued, CreatedAt = now, Tiles = plan.Layout.Count };
        await record.WriteStateAsync();
        LogSubmitted(logger, JobId, spec.Width, spec.Height, plan.Layout.Count, spec.Steps);
        StartRun(resumed: false);
        return Status();
    }

    public Task<JobStatus?> GetStatusAsync() => Task.FromResult(Exists ? Status() : null);

    public async IAsyncEnumerable<JobStatus> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (!Exists) yield break;
        JobStatus? status = null;
        while (status is not { IsFinished: true })
        {
            // A watch call interleaves with the run: while FinishAsync frees the queue place the record already reads
            // finished, and a watcher told so could be refused a new job; the end is seen once FinishAsync publishes it.
            if (status is not null || _leavingQueue)
            {
                await Task.WhenAny(_changed.Task, Task.Delay(ICoordinatorGrain.WatchHeartbeat, cancellationToken));
                cancellationToken.ThrowIfCancellationRequested();
                if (_leavingQueue) continue;
            }
            status = Status();
            yield return status;
        }
    }

    public async Task CancelAsync()
    {
        if (!Exists || record.State.IsFinished) return;
        if (_run is { IsCompleted: false })
        {
            _cancel?.Cancel();
            return;
        }
        await FinishAsync(r => r with { State = JobState.Cancelled });
    }

    public async Task<byte[]> ReadOutputAsync(long offset, int count)
    {
        if (!Exists || record.State.State != JobState.Completed)
            throw new InvalidOperationException($"job '{JobId}' has no output (state {(Exists ? record.State.State.ToString().ToLowerInvariant() : "unknown")})");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        await using var file = File.OpenRead(outputs.PathOf(JobId));
        if (offset >= file.Length) return [];
        file.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[(int)Math.Min(Math.Clamp(count, 1, 4 << 20), file.Length - offset)];
        await file.ReadExactlyAsync(buffer);
        return buffer;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!Exists || record.State.IsFinished)
        {
            await UnregisterResumeReminderAsync();
            return;
        }
        if (_run is null || _run.IsCompleted) StartRun(resumed: true);
    }

    private void StartRun(bool resumed)
    {
        _cancel = new CancellationTokenSource();
        _handingOff = false;
        DelayDeactivation(TimeSpan.FromDays(7)); // a background loop is no request: keep idle collection away from it
        _run = RunAsync(resumed, _cancel.Token);
    }

    /// <summary>The job's step loop, on the grain scheduler (started from a grain turn, never awaited by one).</summary>
    private async Task RunAsync(bool resumed, CancellationToken cancellationToken)
    {
        GrainTileRuntime? runtime = null;
        EngineStart? start = null;
        try
        {
            await Task.Yield(); // let the turn that started the run finish first
            await RegisterResumeReminderAsync(cancellationToken);
            var spec = record.State.Spec!;
            var plan = PlanOf(spec);
            var epoch = record.State.Epoch + 1;
            if (resumed && record.State.Epoch > 0)
            {
                metrics.RecordRecovery(RecoveryReasons.CoordinatorLost);
                LogResuming(logger, JobId, epoch, record.State.CheckpointStep);
            }
            await UpdateAsync(r => r with
            {
                State = JobState.Running,
                Epoch = epoch,
                StartedAt = r.StartedAt ?? DateTimeOffset.UtcNow,
                Recoveries = r.Recoveries + (resumed && r.Epoch > 0 ? 1 : 0),
                Detail = resumed && r.Epoch > 0 ? $"resumed from step {r.CheckpointStep} after its coordinator was lost" : null,
            });
            if (record.State.Recoveries > _options.MaxRecoveries)
                throw new InvalidOperationException($"gave up after {_options.MaxRecoveries} recoveries");
            start = await ReadCheckpointAsync(cancellationToken);
            _step = start?.Step ?? 0;
            _tiles = plan.Layout.Windows.Select(w => new TileDetail(w.Index, w.Row, w.Column, TileState.Pending, null, null, 0)).ToArray();
            _runClock.Restart();
            if (epoch > 1) await ReleaseEpochAsync(plan, epoch - 1);

            var sync = JobComponents.CreateSync(spec.Sync);
            // Between checkpoint steps only bands travel; the exchange's tables are built off the grain scheduler.
            var bands = new BandSchedule(await Task.Run(() => BandExchange.Create(plan, sync), cancellationToken), _options.CheckpointEvery);
            runtime = new GrainTileRuntime(GrainFactory, JobId, epoch, spec, bands.Exchange, _options, this, logger);
            _mosaic = bands.Exchange.Preview;
            EngineResult result;
            using (start?.States)
                result = await new TiledDiffusionEngine(sync).RunAsync(plan, runtime, this, start, this, bands, cancellationToken);
            var placement = runtime.Locations.Select(l => l ?? "").ToArray();
            var (silos, stepCalls) = (runtime.Silos, runtime.StepCallsPerStep);
            await runtime.DisposeAsync();
            runtime = null;

            var path = outputs.PathOf(JobId);
            FinishedImage image;
            double decodeSeconds;
            using (result)
            {
                // A latent canvas is decoded on the workers' devices; the coordinator never loads the model.
                var decoding = Stopwatch.StartNew();
                using var pixels = plan.LatentScale == 1
                    ? result.Canvas.alias()
                    : await new DistributedVaeDecode(GrainFactory, JobId, epoch, spec, _options, logger).DecodeAsync(plan, result.Canvas, cancellationToken);
                decodeSeconds = decoding.Elapsed.TotalSeconds;
                image = await Task.Run(() => ImageFinisher.Finish(pixels, null, plan.Spec, path), CancellationToken.None);
            }
            metrics.RecordOutput(image.Bytes);
            var statistics = result.Statistics with { Silos = silos, DecodeSeconds = decodeSeconds, StepCallsPerStep = stepCalls };
            await FinishAsync(r => r with
            {
                State = JobState.Completed,
                Statistics = statistics,
                TilePlacement = placement,
                OutputFile = OutputStore.FileName(JobId),
                OutputBytes = image.Bytes,
                SeamScore = image.SeamScore,
                Detail = null,
            });
            LogCompleted(logger, JobId, statistics.Seconds, image.Bytes);
        }
        catch (OperationCanceledException) when (_handingOff)
        {
            // The silo is shutting down; the job resumes elsewhere.
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogCancelled(logger, JobId);
            await FinishAsync(r => r with { State = JobState.Cancelled });
        }
        catch (InconsistentStateException e)
        {
            // Another activation moved the job on (a newer epoch): this one is stale and stops without writing.
            LogFenced(logger, e, JobId);
        }
        catch (Exception e)
        {
            LogJobFailed(logger, e, JobId);
            await FinishAsync(r => r with { State = JobState.Failed, Error = e is InvalidJobException ? e.Message : $"{e.GetType().Name}: {e.Message}" });
        }
        finally
        {
            if (runtime is not null) await runtime.DisposeAsync(); // a failed or cancelled job frees its devices at once
        }
    }

    private JobPlan PlanOf(JobSpec spec)
    {
        var local = ModelStorePaths.Resolve(spec, storeOptions.Value.ModelsDirectory);
        var sync = JobComponents.CreateSync(local.Sync);
        // A model folder is opened (configs and weight headers, checked strictly) once per plan.
        var folder = local.Model is null ? null : JobComponents.OpenModel(local);
        var (channels, maxHalo, latentScale) = folder is null ? JobComponents.DenoiserShape(local) : (folder.UNet.InChannels, 0, folder.LatentScale);
        if (jobOptions.Value.PlanForSimulatedDenoiser) maxHalo = 0;
        // The sampler must accept the step count under the model's own schedule (e.g. leading spacing's limit).
        JobComponents.CreateScheduler(local, folder?.Scheduler);
        return JobComponents.Plan(local, channels, maxHalo, sync, latentScale);
    }

    private async Task<EngineStart?> ReadCheckpointAsync(CancellationToken cancellationToken)
    {
        var step = record.State.CheckpointStep;
        if (step <= 0) return null;
        try
        {
            return await checkpoints.ReadAsync(JobId, step, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            LogCheckpointUnusable(logger, e, JobId, step);
            return null; // start over: slower, never wrong
        }
    }

    /// <summary>Fencing: the tiles of an older run stop and free their devices.</summary>
    private async Task ReleaseEpochAsync(JobPlan plan, int epoch)
    {
        await Task.WhenAll(plan.Layout.Windows.Select(async w =>
        {
            try
            {
                await GrainFactory.GetGrain<ITileGrain>($"{JobId}/{epoch}/{w.Index}").ReleaseAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is TimeoutException or OrleansException || GrainTileRuntime.NoTileSiloYet(e))
            {
                // Unreachable or never placed: nothing to free now; an orphan is collected when idle.
            }
        }));
    }

    // ----- the engine's callbacks (all on the grain scheduler) -----

    public void Report(StepProgress value)
    {
        _lastDenoise = value.DenoiseSeconds - (_lastProgress?.DenoiseSeconds ?? 0);
        _lastSync = value.SyncSeconds - (_lastProgress?.SyncSeconds ?? 0);
        metrics.RecordCoordinatorStep(value.ElapsedSeconds - (_lastProgress?.ElapsedSeconds ?? 0), _lastSync, value.Bytes - (_lastProgress?.Bytes ?? 0));
        _lastProgress = value;
        _step = value.Step;
        if (_tiles is not null && value.Step < value.Steps)
            for (var i = 0; i < _tiles.Length; i++) _tiles[i] = _tiles[i] with { State = TileState.Denoising };
        _detail = null;
        Publish();
    }

    public async ValueTask OnSyncedAsync(SyncedStep step, CancellationToken cancellationToken)
    {
        // A preview at most once a second: it is on the step's critical path, and nobody watches faster.
        if (_previewClock is null || _previewClock.Elapsed >= PreviewInterval)
        {
            if (step.Canvas is { } canvas) _preview = await Task.Run(() => PreviewImage.Encode(canvas), cancellationToken);
            else if (step.Thumbnails is { } thumbnails && _mosaic is { } mosaic) _preview = await Task.Run(() => mosaic.Encode(thumbnails), cancellationToken);
            _previewClock = Stopwatch.StartNew();
        }
        var every = _options.CheckpointEvery;
        if (!step.IsFull || every <= 0 || step.StepsDone % every != 0 || step.StepsDone >= record.State.Spec!.Steps) return;
        var elapsed = _runClock.Elapsed.TotalSeconds;
        if (record.State.CheckpointSeconds > _options.CheckpointBudget * Math.Max(elapsed, 1e-9) && record.State.CheckpointStep > 0) return;
        var watch = Stopwatch.StartNew();
        using var states = step.Snapshot();
        var epoch = record.State.Epoch;
        var bytes = await Task.Run(() => checkpoints.Write(JobId, step.StepsDone, epoch, states), cancellationToken);
        var seconds = watch.Elapsed.TotalSeconds;
        await UpdateAsync(r => r with { CheckpointStep = step.StepsDone, CheckpointSeconds = r.CheckpointSeconds + seconds });
        metrics.RecordCheckpoint(seconds, bytes);
        LogCheckpoint(logger, JobId, step.StepsDone, bytes, seconds);
    }

    void ITileRuntimeEvents.TilesLost(IReadOnlyList<int> tiles, Exception cause, int? rollbackTo)
    {
        metrics.RecordRecovery(RecoveryReasons.WorkerLost);
        record.State = record.State with { Recoveries = record.State.Recoveries + 1 };
        if (_tiles is not null)
            foreach (var i in tiles) _tiles[i] = _tiles[i] with { State = TileState.Recovering, Silo = null, Device = null };
        _detail = rollbackTo is { } step
            ? $"re-creating {tiles.Count} tile(s) lost at step {_step}; every tile restarts from step {step} (the last full exchange): {cause.Message}"
            : $"re-creating {tiles.Count} tile(s) lost at step {_step}: {cause.Message}";
        Publish();
    }

    void ITileRuntimeEvents.WaitingForWorkers(string reason)
    {
        _detail = reason;
        Publish();
    }

    void ITileRuntimeEvents.TileDone(int tile, TileProposal proposal)
    {
        if (_tiles is null) return;
        _tiles[tile] = _tiles[tile] with { State = TileState.Done, Silo = proposal.Silo, Device = proposal.Device, LastStepSeconds = proposal.DenoiseSeconds / proposal.BatchSize };
    }

    // ----- record and status -----

    private async Task UpdateAsync(Func<JobRecord, JobRecord> change)
    {
        record.State = change(record.State);
        await record.WriteStateAsync();
        Publish();
    }

    /// <summary>Writes the final state, frees the job's queue place, checkpoints and reminder.</summary>
    private async Task FinishAsync(Func<JobRecord, JobRecord> change)
    {
        _leavingQueue = true;
        try
        {
            record.State = change(record.State) with { FinishedAt = DateTimeOffset.UtcNow };
            await record.WriteStateAsync();
            DelayDeactivation(TimeSpan.Zero);
            checkpoints.Delete(JobId);
            await UnregisterResumeReminderAsync();
            await Index.FinishedAsync(JobId);
        }
        finally
        {
            _leavingQueue = false;
        }
        Publish(); // watchers see the end only once the job has left the queue
    }

    /// <summary>The reminder that resumes the job on another coordinator if this one dies. Registered by the run, not by
    /// the submit call: the reminder table can be briefly unreachable under load, and its exception type (from the Redis
    /// reminders package) is one clients cannot load. Retried; if it never succeeds the job fails naming why.</summary>
    private async Task RegisterResumeReminderAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await this.RegisterOrUpdateReminder(ResumeReminder, _options.ResumeCheckPeriod, _options.ResumeCheckPeriod, cancellationToken);
                return;
            }
            catch (Exception e) when (attempt < ReminderAttempts && e is not OperationCanceledException)
            {
                LogReminderRetry(logger, e, JobId, attempt);
                await Task.Delay(TimeSpan.FromSeconds(1 << (attempt - 1)), cancellationToken);
            }
        }
    }

    /// <summary>Best effort: a reminder left behind ticks once more, finds the job finished and is removed then.</summary>
    private async Task UnregisterResumeReminderAsync()
    {
        try
        {
            if (await this.GetReminder(ResumeReminder) is { } reminder) await this.UnregisterReminder(reminder);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogReminderNotRemoved(logger, e, JobId);
        }
    }

    private JobStatus Status()
    {
        var r = record.State;
        return StatusOf(JobId, r) with
        {
            Step = r.State == JobState.Completed ? r.Spec!.Steps : _step ?? r.CheckpointStep,
            Preview = _preview,
            LastStepDenoiseSeconds = _lastDenoise,
            LastStepSyncSeconds = _lastSync,
            TileDetails = _tiles,
            Detail = _detail ?? r.Detail,
            Coordinator = silo.Name,
        };
    }

    /// <summary>A job's status as its durable record alone gives it (no live progress).</summary>
    internal static JobStatus StatusOf(string jobId, JobRecord r)
    {
        var spec = r.Spec!;
        var finished = r.FinishedAt ?? DateTimeOffset.UtcNow;
        return new JobStatus
        {
            JobId = jobId,
            State = r.State,
            Spec = spec,
            Step = r.State == JobState.Completed ? spec.Steps : r.CheckpointStep,
            Tiles = r.Tiles,
            CreatedAt = r.CreatedAt,
            ElapsedSeconds = r.Statistics?.Seconds ?? (r.StartedAt is { } started ? (finished - started).TotalSeconds : 0),
            Statistics = r.Statistics,
            OutputPath = r.OutputFile,
            OutputBytes = r.OutputBytes,
            Error = r.Error,
            SeamScore = r.SeamScore,
            TilePlacement = r.TilePlacement,
            Epoch = r.Epoch,
            Detail = r.Detail,
            FinishedAt = r.FinishedAt,
            Recoveries = r.Recoveries,
            CheckpointSeconds = r.CheckpointSeconds,
        };
    }

    private void Publish()
    {
        var state = record.State.State;
        if (_countedState != state)
        {
            metrics.JobStateChanged(_countedState, state);
            _countedState = state;
        }
        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
