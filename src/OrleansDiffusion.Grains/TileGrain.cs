using Orleans.Placement;
using Orleans.Runtime;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>
/// One tile of a job on an accelerator silo: keeps its window (plus context) on its device between steps
/// and runs each step through the device executor, batched with the job's other tiles on that device.
/// Never moved once active: the rebalancer must not throw away warm device state.
/// </summary>
[AcceleratorPlacement]
[Immovable]
public sealed class TileGrain(DeviceExecutorPool devices, ILocalSiloDetails silo, DiffusionMetrics metrics) : Grain, ITileGrain
{
    private TileAssignment? _assignment;
    private DeviceExecutor? _executor;
    private JobDeviceContext? _job;
    private TileWorker? _tile;
    private Tensor? _proposal;      // owned until adopted
    private TileProposal? _lastProposal;
    private int _appliedStep = -1;

    private string JobKey => $"{_assignment!.JobId}/{_assignment.Epoch}";
    private string Location => $"{silo.Name}/{_executor!.Name}";

    public async Task<string> InitializeAsync(TileAssignment assignment)
    {
        if (_assignment is not null)
        {
            if (_assignment.JobId != assignment.JobId || _assignment.Epoch != assignment.Epoch)
                throw new InvalidOperationException($"tile {this.GetPrimaryKeyString()} already belongs to {_assignment.JobId}/{_assignment.Epoch}");
            return Location;
        }
        _assignment = assignment;
        _executor = devices.Assign(JobKey);
        var executor = _executor;
        (_job, _tile) = await executor.RunAsync(() =>
        {
            var job = devices.Context(executor, JobKey, assignment);
            return (job, new TileWorker(job.Plan, assignment.Window, job.Noise, job.Scheduler, executor.Device));
        });
        return Location;
    }

    public async Task<TileProposal> DenoiseAsync(StepCall call)
    {
        EnsureCurrent(call);
        if (_lastProposal?.Call == call) return _lastProposal; // a retried call: same answer, no recompute
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var outcome = await _executor!.StepAsync(new StepRequest(JobKey, call.Step, _tile!, _job!));
        metrics.RecordTileStep(_assignment!.Window, _executor.Name, watch.Elapsed.TotalSeconds);
        // Copying out the proposal needs no device thread (no dispose scope, no concurrent use of this tile):
        // doing it here keeps the reply from queueing behind the device's next batch.
        _proposal?.Dispose();
        _proposal = outcome.Proposal;
        var payload = TensorPayloads.ToPayload(outcome.Proposal);
        _lastProposal = new TileProposal(call, payload, outcome.DenoiseSeconds, outcome.BatchSize, silo.Name, _executor.Name);
        return _lastProposal;
    }

    public Task ApplyAsync(StepCall call, TensorPayload? update)
    {
        EnsureCurrent(call);
        if (_appliedStep >= call.Step) return Task.CompletedTask;
        if (_lastProposal?.Call != call) throw new InvalidOperationException($"step {call.Step} was not denoised by this tile");
        // Between a step's reply and its apply the device thread does not touch this tile, so the state is swapped here.
        if (update is null)
        {
            _tile!.Adopt(_proposal!);
        }
        else
        {
            _tile!.Adopt(TensorPayloads.ToTensor(update, _executor!.Device));
            _proposal?.Dispose();
        }
        _proposal = null;
        _appliedStep = call.Step;
        return Task.CompletedTask;
    }

    public async Task ReleaseAsync()
    {
        await FreeAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await FreeAsync();

    private async Task FreeAsync()
    {
        if (_executor is null || _tile is null) return;
        var (executor, tile, proposal, jobKey) = (_executor, _tile, _proposal, JobKey);
        _tile = null;
        _proposal = null;
        await executor.RunAsync(() =>
        {
            tile.Dispose();
            proposal?.Dispose();
            devices.Release(executor, jobKey);
            return true;
        });
    }

    /// <summary>Calls for another job or an older run (epoch) are stale and refused.</summary>
    private void EnsureCurrent(StepCall call)
    {
        if (_assignment is null || _tile is null) throw new InvalidOperationException($"tile {this.GetPrimaryKeyString()} is not initialised or was released");
        if (call.JobId != _assignment.JobId || call.Epoch != _assignment.Epoch)
            throw new InvalidOperationException($"stale call for {call.JobId}/{call.Epoch}; tile runs {JobKey}");
    }
}
