using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Exchange;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>
/// One tile of a job on an accelerator silo: keeps its window (plus context) on its device between steps and runs
/// each step through the device executor, batched with the job's other tiles on that device. A step runs in the
/// background and is awaited in short calls, so a long queue on a busy device never outlives a response timeout.
/// Never moved once active: the rebalancer must not throw away warm device state.
/// </summary>
[AcceleratorPlacement]
[Immovable]
[CollectionAgeLimit(Minutes = 5)]
public sealed partial class TileGrain(DeviceExecutorPool devices, ILocalSiloDetails silo, DiffusionMetrics metrics, ILogger<TileGrain> logger)
    : Grain, ITileGrain
{
    private TileAssignment? _assignment;
    private DeviceExecutor? _executor;
    private Task<(JobDeviceContext Job, TileWorker Tile)>? _build;
    private CancellationTokenSource _released = new();
    private int _step;                        // the next step this tile runs
    private StepCall? _running;               // the step started in the background, if any
    private Task<TileProposal>? _runningTask;
    private Tensor? _proposal;                // owned until adopted
    private TileProposal? _lastProposal;

    private string JobKey => $"{_assignment!.JobId}/{_assignment.Epoch}";

    public async Task InitializeAsync(TileAssignment assignment)
    {
        var key = this.GetPrimaryKeyString();
        if (JobIds.Check(assignment.JobId) is { } problem) throw new InvalidJobException("job-id", problem);
        if (key != ITileGrain.Key(assignment.JobId, assignment.Epoch, assignment.Window.Index))
            throw new InvalidOperationException($"tile {key} cannot take the assignment of {ITileGrain.Key(assignment.JobId, assignment.Epoch, assignment.Window.Index)}");
        if (_assignment is not null && _assignment.StartStep == assignment.StartStep && _assignment.Attempt == assignment.Attempt
            && _assignment.State is null == assignment.State is null) return;
        if (_assignment is not null) await FreeAsync(); // re-created in place: the coordinator restarts it from its synced state
        _assignment = assignment;
        _released = new CancellationTokenSource();
        _step = assignment.StartStep;
        _executor = devices.Assign(JobKey);
        _build = BuildAsync(assignment, _executor);
        LogInitialized(logger, key, silo.Name, _executor.Name, assignment.StartStep);
    }

    private async Task<(JobDeviceContext, TileWorker)> BuildAsync(TileAssignment assignment, DeviceExecutor executor)
    {
        var job = await devices.ContextAsync(executor, JobKey, assignment);
        var tile = await Task.Run(() => assignment.State is { } state
            ? new TileWorker(job.Plan, assignment.Window, TensorPayloads.ToTensor(state), executor.Device)
            : new TileWorker(job.Plan, assignment.Window, job.Noise, job.Scheduler, executor.Device));
        return (job, tile);
    }

    public async Task<TileProposal?> DenoiseAsync(StepCall call, TileUpdate? update, TimeSpan wait)
    {
        EnsureCurrent(call);
        if (_lastProposal?.Call == call) return _lastProposal; // a retried call: same answer, no recompute
        if (_running != call)
        {
            if (update is not null && update.Step == _step && update.Step == call.Step - 1) await AdoptAsync(update);
            if (call.Step != _step) throw new TileLostException($"tile {this.GetPrimaryKeyString()} is at step {_step}, not {call.Step}");
            _running = call;
            _runningTask = RunStepAsync(call);
        }
        var step = _runningTask!;
        try
        {
            return await step.WaitAsync(wait); // the wait's timer goes with the step, not 64 live timers per step
        }
        catch (TimeoutException) when (!step.IsCompleted)
        {
            return null; // still queued or running: the coordinator calls again
        }
    }

    public async Task<TensorPayload> DeliverAsync(StepCall call, TileUpdate update)
    {
        EnsureCurrent(call);
        if (update.Step != call.Step) throw new ArgumentException($"the update of step {update.Step} cannot finish step {call.Step}", nameof(update));
        if (_step == call.Step) await AdoptAsync(update); // a repeated call finds it adopted
        if (_step != call.Step + 1) throw new TileLostException($"tile {this.GetPrimaryKeyString()} is at step {_step}, not past {call.Step}");
        var (job, tile) = await _build!;
        var bands = await job.Bands;
        using var state = tile.State();
        using var part = bands.OwnedPart(_assignment!.Window.Index, state);
        return TensorPayloads.ToPayload(part);
    }

    /// <summary>Adopts the synced result of the step this tile last denoised. Between a step's reply and the next step
    /// the device thread does not touch this tile, so the state is swapped here.</summary>
    private async Task AdoptAsync(TileUpdate update)
    {
        if (_lastProposal?.Call.Step != update.Step || _proposal is null)
            throw new TileLostException($"tile {this.GetPrimaryKeyString()} did not denoise step {update.Step}");
        var (job, tile) = await _build!;
        if (update.Bands is { } bands)
        {
            var index = _assignment!.Window.Index;
            tile.Adopt((await job.Bands).Apply(index, _proposal, BandReply.From(index, bands)));
            _proposal.Dispose();
        }
        else
        {
            tile.Adopt(_proposal);
        }
        _proposal = null;
        _step = update.Step + 1;
    }

    private async Task<TileProposal> RunStepAsync(StepCall call)
    {
        var (job, tile) = await _build!;
        var executor = _executor!;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var outcome = await executor.StepAsync(new StepRequest(JobKey, call.Step, tile, job, _released.Token));
        metrics.RecordTileStep(_assignment!.Window, executor.Name, watch.Elapsed.TotalSeconds);
        // Copying out the proposal needs no device thread (no concurrent use of this tile).
        _proposal?.Dispose();
        _proposal = outcome.Proposal;
        var index = _assignment.Window.Index;
        _lastProposal = call.Bands
            ? new TileProposal(call, null, outcome.DenoiseSeconds, outcome.BatchSize, silo.Name, executor.Name, Upload(await job.Bands, index, outcome.Proposal), silo.SiloAddress)
            : new TileProposal(call, TensorPayloads.ToPayload(outcome.Proposal), outcome.DenoiseSeconds, outcome.BatchSize, silo.Name, executor.Name, Host: silo.SiloAddress);
        return _lastProposal;
    }

    private static BandUploadPayload Upload(BandExchange bands, int index, Tensor proposal) => bands.Upload(index, proposal).ToPayload();

    public async Task ReleaseAsync()
    {
        await FreeAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await FreeAsync();

    private async Task FreeAsync()
    {
        if (_assignment is null || _executor is null || _build is null) return;
        var (executor, build, proposal, jobKey, running) = (_executor, _build, _proposal, JobKey, _runningTask);
        _released.Cancel();
        (_assignment, _executor, _build, _proposal, _lastProposal, _running, _runningTask) = (null, null, null, null, null, null, null);
        try
        {
            if (running is not null) await running; // a released request is skipped by the device thread
        }
        catch (Exception)
        {
            // Cancelled or failed: either way the step's result is no longer wanted.
        }
        try
        {
            var (_, tile) = await build;
            tile.Dispose();
        }
        catch (Exception e)
        {
            LogBuildFailed(logger, e, this.GetPrimaryKeyString());
        }
        proposal?.Dispose();
        await devices.ReleaseAsync(executor, jobKey);
    }

    /// <summary>Calls for another job or an older run (epoch) are stale and refused; a tile without state is lost.</summary>
    private void EnsureCurrent(StepCall call)
    {
        if (_assignment is null) throw new TileLostException($"tile {this.GetPrimaryKeyString()} has no state (not initialised, released, or its silo was lost)");
        if (call.JobId != _assignment.JobId || call.Epoch != _assignment.Epoch)
            throw new InvalidOperationException($"stale call for {call.JobId}/{call.Epoch}; tile runs {JobKey}");
    }
}
