using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>What a job's tile grains report to their coordinator while a step runs.</summary>
internal interface ITileRuntimeEvents
{
    /// <summary>Tiles were lost (their silo died or is shutting down) and are being re-created from the last synced state:
    /// this step's (<paramref name="rollbackTo"/> null), or, between full exchanges, every tile's at an earlier step.</summary>
    void TilesLost(IReadOnlyList<int> tiles, Exception cause, int? rollbackTo);

    /// <summary>No accelerator silo can take the tiles; the job waits (up to <see cref="JobOptions.WorkerWaitTimeout"/>).</summary>
    void WaitingForWorkers(string reason);

    void TileDone(int tile, TileProposal proposal);
}

/// <summary>
/// The engine's tiles as tile grains on accelerator silos. Every step calls all tiles in parallel with (job, epoch,
/// step): one message per worker silo, whose <see cref="ITileHostGrain"/> calls the tiles living there (the first step,
/// and a tile whose silo is not known, is called directly). Each tile call waits at most <see cref="JobOptions.TileCallWait"/>,
/// and calls are repeated until every tile has answered, so no message has to outlive the response timeout; each call
/// also carries the tile's synced result of the step before, so one message per silo and step moves both directions.
/// The runtime keeps each tile's state from the last full exchange. A tile lost with its silo right after one is
/// re-created on a surviving accelerator silo and only that step is redone (the tiles that answered return their
/// proposal again without recomputing); a tile lost on a band-only step rolls every tile back to the last full exchange
/// (<see cref="TileRollbackException"/>).
/// </summary>
/// <param name="spec">the job's spec as submitted (model by store name): every tile silo resolves and checks it itself.</param>
/// <param name="exchange">the plan's band exchange: between full exchanges only bands move, and after a full exchange
/// only bands go down too (tiles rebuild the update from their own proposal).</param>
internal sealed partial class GrainTileRuntime(IGrainFactory grains, string jobId, int epoch, JobSpec spec, BandExchange exchange, JobOptions options,
    ITileRuntimeEvents events, ILogger logger)
    : ITileRuntime
{
    private JobPlan? _plan;
    private ITileGrain?[] _tiles = [];  // referenced on first placement: without an accelerator silo there is no tile grain type yet
    private Tensor?[] _states = [];   // each tile's state before _statesStep (the last full exchange); null: from the noise field
    private int _statesStep;
    private int _step;                // the step the tiles run next
    private Tensor[] _proposals = [];
    private BandUpload[] _uploads = [];
    private TileUpdate?[] _updates = [];  // each tile's synced result of the step before, sent with its next call
    private SiloAddress?[] _hosts = [];   // the silo each tile last answered from: its step calls go through that silo's host
    private long[] _replyBytes = [];      // each tile's last reply: about what it sends back through its host
    private int _recoveries;
    private long _stepCalls;          // messages sent to run steps (host and direct calls)
    private int _stepsDenoised;

    /// <summary>"silo/device" of every tile, in layout order, as last reported.</summary>
    public string?[] Locations { get; private set; } = [];

    public int Silos => Locations.Where(l => l is not null).Select(l => l![..l!.LastIndexOf('/')]).Distinct().Count();

    /// <summary>Messages sent per denoised step (one per worker silo once every tile has answered once).</summary>
    public double StepCallsPerStep => _stepsDenoised == 0 ? 0 : (double)_stepCalls / _stepsDenoised;

    /// <summary>Tile re-creations so far.</summary>
    public int Recoveries => _recoveries;

    public async Task StartAsync(JobPlan plan, EngineStart? start, CancellationToken cancellationToken)
    {
        _plan = plan;
        _tiles = new ITileGrain?[plan.Layout.Count];
        _states = start is null ? new Tensor?[plan.Layout.Count] : plan.Layout.Windows.Select(w => (Tensor?)start.States.For(plan, w.Index)).ToArray();
        _step = _statesStep = start?.Step ?? 0;
        _updates = new TileUpdate?[plan.Layout.Count];
        _hosts = new SiloAddress?[plan.Layout.Count];
        _replyBytes = new long[plan.Layout.Count];
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
                    _tiles[i] ??= grains.GetGrain<ITileGrain>(ITileGrain.Key(jobId, epoch, layout.Windows[i].Index));
                    await _tiles[i]!.InitializeAsync(new TileAssignment
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
                        Attempt = _recoveries,
                    });
                    return new Outcome(i, true, null);
                }
                catch (Exception e) when (IsTransient(e))
                {
                    return new Outcome(i, false, e);
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

    public async Task<TileStepResult> DenoiseAsync(int step, bool bands, CancellationToken cancellationToken)
    {
        var call = new StepCall(jobId, epoch, step, bands);
        var replies = new TileProposal?[_tiles.Length];
        bool Take(int i, TileProposal? reply)
        {
            if (reply is null) return false; // still running
            if (reply.Call != call) throw new InvalidOperationException($"stale tile reply for step {step}");
            replies[i] = reply;
            _updates[i] = null; // adopted
            (_hosts[i], _replyBytes[i]) = (reply.Host, reply.Bytes);
            if (!IsAt(Locations[i], reply)) Locations[i] = $"{reply.Silo}/{reply.Device}";
            events.TileDone(i, reply);
            return true;
        }
        // One message per silo for the tiles whose silo is known (they answered before; more messages when their payloads
        // are large), one per tile for the others.
        IEnumerable<Task<Outcome[]>> CallGroup(IGrouping<SiloAddress?, int> group)
        {
            if (group.Key is not { } host)
            {
                _stepCalls += group.Count();
                yield return EachTileAsync(group.ToArray(), async i => Take(i, await _tiles[i]!.DenoiseAsync(call, _updates[i], options.TileCallWait)));
                yield break;
            }
            foreach (var message in TileHostMessages.Split(group.ToArray(), i => _updates[i]?.Bytes ?? 0, i => _replyBytes[i], options.HostMessageBytes))
            {
                _stepCalls++;
                yield return DenoiseThroughHostAsync(host, call, message, Take);
            }
        }
        await CallEveryTileAsync(pending => pending.GroupBy(i => _hosts[i]).SelectMany(CallGroup), rollBack: false, cancellationToken);
        _stepsDenoised++;
        DisposeProposals();
        if (bands)
            _uploads = replies.Select((r, i) => r!.Bands is { } b
                ? BandUpload.From(i, b)
                : throw new InvalidOperationException($"tile {i} sent no bands for step {step}")).ToArray();
        else
            _proposals = replies.Select((r, i) => TensorPayloads.ToTensor(r!.Window ?? throw new InvalidOperationException($"tile {i} sent no window for step {step}"))).ToArray();
        // Tiles in one batch share a forward pass: the critical path is the slowest device's pass,
        // and the number of passes is Σ 1/batch size.
        var seconds = replies.GroupBy(r => (r!.Silo, r.Device)).Max(g => g.Sum(r => r!.DenoiseSeconds / r.BatchSize));
        var forwardCalls = (int)Math.Round(replies.Sum(r => 1.0 / r!.BatchSize));
        return new TileStepResult(_proposals, seconds, forwardCalls, replies.Sum(r => r!.Bytes), bands ? _uploads : null);
    }

    /// <summary>Keeps each tile's synced result for the next step's call (one message per tile and step carries both
    /// directions) as its band reply, and its whole synced window (or its own proposal) as the state to re-create the
    /// tile from.</summary>
    public async Task<long> ScatterAsync(int step, IReadOnlyList<Tensor?> updates, CancellationToken cancellationToken)
    {
        var plan = _plan ?? throw new InvalidOperationException("StartAsync was not called");
        var proposals = _proposals;
        var replies = updates.Any(u => u is not null)
            ? await Task.Run(() => exchange.RepliesFrom(proposals, updates, step, plan.Steps), cancellationToken)
            : null;
        long bytes = 0;
        for (var i = 0; i < _tiles.Length; i++)
        {
            var payload = replies?[i].ToPayload();
            bytes += payload?.Bytes ?? 0;
            _updates[i] = new TileUpdate(step, payload);
            _states[i]?.Dispose();
            _states[i] = updates[i] ?? _proposals[i];
            if (updates[i] is not null) _proposals[i].Dispose();
        }
        _proposals = [];
        _step = _statesStep = step + 1;
        return bytes;
    }

    /// <summary>Keeps each tile's synced bands for the next step's call.</summary>
    public Task<long> ScatterBandsAsync(int step, IReadOnlyList<BandReply> replies, CancellationToken cancellationToken)
    {
        var bytes = KeepReplies(step, replies);
        _step = step + 1;
        return Task.FromResult(bytes);
    }

    /// <summary>Each tile's reply as the update its next call carries (the replies are disposed); the bytes they take.</summary>
    private long KeepReplies(int step, IReadOnlyList<BandReply> replies)
    {
        long bytes = 0;
        foreach (var reply in replies)
        {
            var payload = reply.ToPayload();
            bytes += payload.Bytes;
            _updates[reply.Tile] = new TileUpdate(step, payload);
        }
        DisposeProposals();
        return bytes;
    }

    /// <summary>Each tile's reply goes with its delivery call; each tile's part of the image is written into the canvas as
    /// it arrives, so no tile's whole window and no second copy of the image exist here.</summary>
    public async Task<(Tensor Canvas, long Bytes)> GatherAsync(int step, IReadOnlyList<BandReply> replies, CancellationToken cancellationToken)
    {
        var plan = _plan ?? throw new InvalidOperationException("StartAsync was not called");
        var down = KeepReplies(step, replies); // the tiles adopt them with their delivery
        var layout = plan.Layout;
        var canvas = zeros(plan.Channels, layout.CanvasHeight, layout.CanvasWidth);
        try
        {
            var call = new StepCall(jobId, epoch, step, Bands: true);
            long up = 0;
            // The tiles that delivered are past the step: a lost tile rolls every tile back to the last full exchange.
            await CallEveryTileAsync(pending => [EachTileAsync(pending, async i =>
            {
                var part = await _tiles[i]!.DeliverAsync(call, _updates[i]!);
                using (var cells = TensorPayloads.ToTensor(part)) exchange.Place(canvas, i, cells); // on this scheduler: one tile at a time
                (up, _updates[i]) = (up + part.Bytes, null); // its reply is no longer needed
                return true;
            })], rollBack: true, cancellationToken);
            _step = step + 1;
            return (canvas, down + up);
        }
        catch
        {
            canvas.Dispose();
            throw;
        }
    }

    /// <summary>Calls the pending tiles (<paramref name="callPending"/>: the messages to send, each answering with an
    /// outcome per tile it carries) until each has answered. A tile still working or whose call timed out is called again
    /// (tile calls are idempotent); lost tiles are recovered (<see cref="RecoverAsync"/>).</summary>
    private async Task CallEveryTileAsync(Func<int[], IEnumerable<Task<Outcome[]>>> callPending, bool rollBack, CancellationToken cancellationToken)
    {
        var pending = Enumerable.Range(0, _tiles.Length).ToArray();
        while (pending.Length > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var outcomes = (await Task.WhenAll(callPending(pending))).SelectMany(o => o).ToArray();
            var lost = outcomes.Where(o => o.Error is not null).ToArray();
            if (lost.Length > 0) await RecoverAsync(lost.Select(o => o.Index).ToArray(), lost[0].Error!, rollBack, cancellationToken);
            pending = outcomes.Where(o => !o.Answered).Select(o => o.Index).ToArray();
        }
    }

    /// <summary>One direct call per tile (<paramref name="call"/>: true once the tile has answered).</summary>
    private static Task<Outcome[]> EachTileAsync(int[] tiles, Func<int, Task<bool>> call) => Task.WhenAll(tiles.Select(async i =>
    {
        try
        {
            return new Outcome(i, await call(i), null);
        }
        catch (TimeoutException)
        {
            return new Outcome(i, false, null); // unknown outcome: the same call again is idempotent
        }
        catch (Exception e) when (IsTileLoss(e))
        {
            return new Outcome(i, false, e);
        }
    }));

    /// <summary>One message for the tiles living on <paramref name="host"/>. When the host cannot be reached, its tiles are
    /// called directly next time (their own calls tell whether they are lost), so a host's failure never loses a tile
    /// that is still there.</summary>
    private async Task<Outcome[]> DenoiseThroughHostAsync(SiloAddress host, StepCall call, int[] tiles, Func<int, TileProposal?, bool> take)
    {
        TileStepOutcome[] outcomes;
        try
        {
            var windows = _plan!.Layout.Windows;
            outcomes = await grains.GetGrain<ITileHostGrain>(host.ToParsableString())
                .DenoiseAsync(call, tiles.Select(i => new TileCall(windows[i].Index, _updates[i])).ToArray(), options.TileCallWait);
        }
        catch (Exception e) when (e is TimeoutException || IsTileLoss(e))
        {
            LogHostUnreachable(logger, jobId, host, tiles.Length, e.Message);
            foreach (var i in tiles) _hosts[i] = null;
            return tiles.Select(i => new Outcome(i, false, null)).ToArray();
        }
        if (outcomes.Length != tiles.Length)
            throw new InvalidOperationException($"the tile host on {host} answered for {outcomes.Length} of {tiles.Length} tiles");
        return tiles.Select((i, k) => outcomes[k].Lost is { } why
            ? new Outcome(i, false, new TileLostException(why))
            : new Outcome(i, take(i, outcomes[k].Proposal), null)).ToArray();
    }

    /// <summary>Re-creates <paramref name="lost"/> tiles in their state before the current step when the runtime holds it
    /// (right after a full exchange) and the step can simply be redone; otherwise (or with <paramref name="rollBack"/>:
    /// the tiles that delivered are past the step) every tile goes back to the last full exchange and the engine redoes
    /// the steps from there.</summary>
    private async Task RecoverAsync(int[] lost, Exception cause, bool rollBack, CancellationToken cancellationToken)
    {
        if (++_recoveries > options.MaxRecoveries)
            throw new InvalidOperationException($"gave up after re-creating lost tiles {options.MaxRecoveries} times; last: {cause.Message}");
        var rollback = rollBack || _step != _statesStep;
        LogTilesLost(logger, cause, jobId, lost.Length, _step, _statesStep);
        events.TilesLost(lost, cause, rollback ? _statesStep : null);
        foreach (var i in lost) (Locations[i], _hosts[i]) = (null, null);
        if (!rollback)
        {
            foreach (var i in lost) _updates[i] = null; // re-created directly in its next state
            await InitializeAsync(lost, cancellationToken);
            return;
        }
        DisposeProposals();
        Array.Clear(_updates);
        _step = _statesStep;
        await InitializeAsync(Enumerable.Range(0, _tiles.Length).ToArray(), cancellationToken);
        throw new TileRollbackException(_statesStep, $"{lost.Length} tile(s) lost between full exchanges; every tile restarts at step {_statesStep}", cause);
    }

    /// <summary>True when <paramref name="location"/> is already "silo/device" of <paramref name="reply"/> (no string per tile and step).</summary>
    private static bool IsAt(string? location, TileProposal reply) =>
        location is not null && location.Length == reply.Silo.Length + 1 + reply.Device.Length
        && location.StartsWith(reply.Silo, StringComparison.Ordinal) && location.EndsWith(reply.Device, StringComparison.Ordinal);

    /// <summary>The tile's silo died, is shutting down, or lost the tile's directory entry: re-create the tile.</summary>
    internal static bool IsTileLoss(Exception e) => e switch
    {
        TileLostException or SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException => true,
        OrleansException orleans => orleans.Message.Contains("silo", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    /// <summary>Worth retrying while placing tiles: no accelerator silo yet, or one that is going away.</summary>
    private static bool IsTransient(Exception e) => IsTileLoss(e) || e is TimeoutException or OrleansException || NoTileSiloYet(e);

    /// <summary>Until the first accelerator silo's grain types reach this silo's cluster manifest, Orleans resolves no
    /// implementation of the tile interface (coordinator silos host none) and says so with a plain ArgumentException;
    /// a worker that just reported ready can still be in that window.</summary>
    internal static bool NoTileSiloYet(Exception e) =>
        e is ArgumentException && e.Message.StartsWith("Could not find an implementation for interface", StringComparison.Ordinal);

    /// <summary>One tile call's result: answered, to repeat, or the error that lost the tile.</summary>
    private readonly record struct Outcome(int Index, bool Answered, Exception? Error);

    private void DisposeProposals()
    {
        foreach (var proposal in _proposals) proposal.Dispose();
        (_proposals, _uploads) = ([], []);
    }

    /// <summary>Releases every tile (failed, cancelled or finished job: device memory is freed at once).</summary>
    public async ValueTask DisposeAsync()
    {
        DisposeProposals();
        foreach (var state in _states) state?.Dispose();
        _states = [];
        await Task.WhenAll(_tiles.OfType<ITileGrain>().Select(async t =>
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
