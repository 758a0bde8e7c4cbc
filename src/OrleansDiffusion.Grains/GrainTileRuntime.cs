using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>What a job's tile grains report to their coordinator while a step runs.</summary>
internal interface ITileRuntimeEvents
{
    /// <summary>Tiles were lost (their silo died or is shutting down) and are being re-created from the last synced state.</summary>
    void TilesLost(IReadOnlyList<int> tiles, Exception cause);

    /// <summary>No accelerator silo can take the tiles; the job waits (up to <see cref="JobOptions.WorkerWaitTimeout"/>).</summary>
    void WaitingForWorkers(string reason);

    void TileDone(int tile, TileProposal proposal);
}

/// <summary>
/// The engine's tiles as tile grains on accelerator silos. Every step calls all tiles in parallel with (job, epoch,
/// step); each call waits at most <see cref="JobOptions.TileCallWait"/>, and calls are repeated until every tile has
/// answered, so no message has to outlive the response timeout. The runtime keeps each tile's state at the start of
/// the current step (the last scatter), so a tile lost with its silo is re-created on a surviving accelerator silo
/// and only that step is redone; the tiles that answered return their proposal again without recomputing.
/// </summary>
/// <param name="spec">the job's spec as submitted (model by store name): every tile silo resolves and checks it itself.</param>
internal sealed partial class GrainTileRuntime(IGrainFactory grains, string jobId, int epoch, JobSpec spec, JobOptions options, ITileRuntimeEvents events, ILogger logger)
    : ITileRuntime
{
    private JobPlan? _plan;
    private ITileGrain[] _tiles = [];
    private Tensor?[] _states = [];   // each tile's state before _step; null: from the noise field (step 0)
    private int _step;
    private Tensor[] _proposals = [];
    private int _recoveries;

    /// <summary>"silo/device" of every tile, in layout order, as last reported.</summary>
    public string?[] Locations { get; private set; } = [];

    public int Silos => Locations.Where(l => l is not null).Select(l => l![..l!.LastIndexOf('/')]).Distinct().Count();

    /// <summary>Tile re-creations so far.</summary>
    public int Recoveries => _recoveries;

    public async Task StartAsync(JobPlan plan, EngineStart? start, CancellationToken cancellationToken)
    {
        _plan = plan;
        _tiles = plan.Layout.Windows.Select(w => grains.GetGrain<ITileGrain>($"{jobId}/{epoch}/{w.Index}")).ToArray();
        _states = start is null ? new Tensor?[plan.Layout.Count] : plan.Layout.Windows.Select(w => (Tensor?)start.States.For(plan, w.Index)).ToArray();
        _step = start?.Step ?? 0;
        Locations = new string?[plan.Layout.Count];
        await InitializeAsync(Enumerable.Range(0, plan.Layout.Count).ToArray(), cancellationToken);
    }

    /// <summary>(Re-)creates <paramref name="indices"/> from their states before the current step, waiting for an
    /// accelerator silo while none can take them.</summary>
    private async Task InitializeAsync(int[] indices, CancellationToken cancellationToken)
    {
        var plan = _plan!;
        var layout = plan.Layout;
        var deadline = DateTime.UtcNow + options.WorkerWaitTimeout;
        var pending = indices;
        while (pending.Length > 0)
        {
            var outcomes = await Task.WhenAll(pending.Select(async i =>
            {
                try
                {
                    await _tiles[i].InitializeAsync(new TileAssignment
                    {
                        JobId = jobId,
                        Epoch = epoch,
                        Spec = spec,
                        Window = layout.Windows[i],
                        CanvasWidth = layout.CanvasWidth,
                        CanvasHeight = layout.CanvasHeight,
                        TileWidth = layout.TileWidth,
                        TileHeight = layout.TileHeight,
                        Context = plan.Context,
                        Channels = plan.Channels,
                        TileCount = layout.Count,
                        StartStep = _step,
                        State = _states[i] is { } state ? TensorPayloads.ToPayload(state) : null,
                    });
                    return new Outcome(i, null, null);
                }
                catch (Exception e) when (IsTransient(e))
                {
                    return new Outcome(i, null, e);
                }
            }));
            pending = outcomes.Where(o => o.Error is not null).Select(o => o.Index).ToArray();
            if (pending.Length == 0) return;
            var cause = outcomes.First(o => o.Error is not null).Error!;
            if (DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"no accelerator silo took {pending.Length} tile(s) within {options.WorkerWaitTimeout.TotalSeconds:0} s: {cause.Message}");
            events.WaitingForWorkers($"waiting for an accelerator silo for {pending.Length} tile(s): {cause.Message}");
            LogWaitingForWorkers(logger, jobId, pending.Length, cause.Message);
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    public async Task<TileStepResult> DenoiseAsync(int step, CancellationToken cancellationToken)
    {
        var call = new StepCall(jobId, epoch, step);
        var replies = new TileProposal?[_tiles.Length];
        var pending = Enumerable.Range(0, _tiles.Length).ToArray();
        while (pending.Length > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var outcomes = await Task.WhenAll(pending.Select(async i =>
            {
                try
                {
                    return new Outcome(i, await _tiles[i].DenoiseAsync(call, options.TileCallWait), null);
                }
                catch (TimeoutException)
                {
                    return new Outcome(i, null, null); // unknown outcome: the same call again is idempotent
                }
                catch (Exception e) when (IsTileLoss(e))
                {
                    return new Outcome(i, null, e);
                }
            }));
            foreach (var (index, reply, _, _) in outcomes)
                if (reply is not null)
                {
                    if (reply.Call != call) throw new InvalidOperationException($"stale tile reply for step {step}");
                    replies[index] = reply;
                    Locations[index] = $"{reply.Silo}/{reply.Device}";
                    events.TileDone(index, reply);
                }
            var lost = outcomes.Where(o => o.Error is not null).Select(o => o.Index).ToArray();
            if (lost.Length > 0) await RecoverAsync(lost, outcomes.First(o => o.Error is not null).Error!, cancellationToken);
            pending = pending.Where(i => replies[i] is null).ToArray();
        }
        DisposeProposals();
        _proposals = replies.Select(r => TensorPayloads.ToTensor(r!.Window)).ToArray();
        // Tiles in one batch share a forward pass: the critical path is the slowest device's pass,
        // and the number of passes is Σ 1/batch size.
        var seconds = replies.GroupBy(r => (r!.Silo, r.Device)).Max(g => g.Sum(r => r!.DenoiseSeconds / r.BatchSize));
        var forwardCalls = (int)Math.Round(replies.Sum(r => 1.0 / r!.BatchSize));
        return new TileStepResult(_proposals, seconds, forwardCalls, replies.Sum(r => r!.Window.Bytes));
    }

    public async Task<long> ScatterAsync(int step, IReadOnlyList<Tensor?> updates, CancellationToken cancellationToken)
    {
        var call = new StepCall(jobId, epoch, step);
        var payloads = updates.Select(u => u is null ? null : TensorPayloads.ToPayload(u)).ToArray();
        // The tiles' states before the next step, kept to re-create a lost tile: its synced window, or its own proposal.
        for (var i = 0; i < _tiles.Length; i++)
        {
            _states[i]?.Dispose();
            _states[i] = updates[i] ?? _proposals[i];
        }
        _proposals = [];
        _step = step + 1;
        var pending = Enumerable.Range(0, _tiles.Length).ToArray();
        while (pending.Length > 0)
        {
            var outcomes = await Task.WhenAll(pending.Select(async i =>
            {
                try
                {
                    await _tiles[i].ApplyAsync(call, payloads[i]);
                    return new Outcome(i, null, null);
                }
                catch (TimeoutException)
                {
                    return new Outcome(i, null, null, Retry: true);
                }
                catch (Exception e) when (IsTileLoss(e))
                {
                    return new Outcome(i, null, e);
                }
            }));
            var lost = outcomes.Where(o => o.Error is not null).Select(o => o.Index).ToArray();
            // A lost tile is re-created directly in its next state: nothing left to apply.
            if (lost.Length > 0) await RecoverAsync(lost, outcomes.First(o => o.Error is not null).Error!, cancellationToken);
            pending = outcomes.Where(o => o.Retry).Select(o => o.Index).ToArray();
        }
        return payloads.Sum(p => p?.Bytes ?? 0);
    }

    private async Task RecoverAsync(int[] lost, Exception cause, CancellationToken cancellationToken)
    {
        if (++_recoveries > options.MaxRecoveries)
            throw new InvalidOperationException($"gave up after re-creating lost tiles {options.MaxRecoveries} times; last: {cause.Message}");
        LogTilesLost(logger, cause, jobId, lost.Length, _step);
        events.TilesLost(lost, cause);
        foreach (var i in lost) Locations[i] = null;
        await InitializeAsync(lost, cancellationToken);
    }

    /// <summary>The tile's silo died, is shutting down, or lost the tile's directory entry: re-create the tile.</summary>
    internal static bool IsTileLoss(Exception e) => e switch
    {
        TileLostException or SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException => true,
        OrleansException orleans => orleans.Message.Contains("silo", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    /// <summary>Worth retrying while placing tiles: no accelerator silo yet, or one that is going away.</summary>
    private static bool IsTransient(Exception e) => IsTileLoss(e) || e is TimeoutException or OrleansException;

    /// <summary>One tile call's result: a reply, a loss (<paramref name="Error"/>) or a timed-out call to repeat.</summary>
    private readonly record struct Outcome(int Index, TileProposal? Reply, Exception? Error, bool Retry = false);

    private void DisposeProposals()
    {
        foreach (var proposal in _proposals) proposal.Dispose();
        _proposals = [];
    }

    /// <summary>Releases every tile (failed, cancelled or finished job: device memory is freed at once).</summary>
    public async ValueTask DisposeAsync()
    {
        DisposeProposals();
        foreach (var state in _states) state?.Dispose();
        _states = [];
        await Task.WhenAll(_tiles.Select(async t =>
        {
            try
            {
                await t.ReleaseAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception e) when (e is TimeoutException || IsTransient(e))
            {
                // A tile on a lost silo has nothing left to release; an unreachable one is collected when idle.
            }
        }));
    }
}
