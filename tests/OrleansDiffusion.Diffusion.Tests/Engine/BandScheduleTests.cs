using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Engine;

/// <summary>A whole run that moves only bands between full exchanges gives the image of the run that moves whole windows
/// every step, bit for bit, in every sync mode; and a run rolled back to its last full exchange does too.</summary>
public class BandScheduleTests
{
    public static TheoryData<SyncMode, double, int> Cases()
    {
        var data = new TheoryData<SyncMode, double, int>();
        foreach (var mode in new[] { SyncMode.None, SyncMode.Average, SyncMode.Gaussian, SyncMode.Attention, SyncMode.Halo })
        {
            data.Add(mode, 0.0, 3); // full exchanges after steps 3 and 6 (the checkpoint steps); the last step gathers owned parts
            data.Add(mode, 1.0, 0); // no full exchange at all (but under `none`, the last step); η = 1 injects noise every step
        }
        return data;
    }

    private static JobSpec Spec(SyncMode mode, double eta) =>
        TestJobs.Spec(112, 48, mode == SyncMode.Halo ? 0 : 16, mode, steps: 7) with { Eta = eta };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_band_only_run_gives_the_full_window_image_bit_for_bit(SyncMode mode, double eta, int fullEvery)
    {
        var spec = Spec(mode, eta);
        using var whole = await RunAsync(spec, null, observer: null, plan => new InProcessTileRuntime(TestJobs.Denoiser, Scheduler(spec), bandExchange: null));
        var observed = new Observer();
        BandSchedule? schedule = null;
        using var banded = await RunAsync(spec, plan => schedule = new BandSchedule(BandExchange.Create(plan, JobComponents.CreateSync(mode)), fullEvery),
            observed, plan => new InProcessTileRuntime(TestJobs.Denoiser, Scheduler(spec), bandExchange: schedule!.Exchange));

        Assert.True(whole.Canvas.IsSameAs(banded.Canvas), $"{mode}: the band-only run differs from the full-window run");
        // The observer (previews, checkpoints) sees every step but the last; the full exchanges with the canvas, the others
        // with every tile's preview thumbnail.
        Assert.Equal(Enumerable.Range(1, spec.Steps - 1), observed.Steps.Select(s => s.Step));
        Assert.Equal(fullEvery == 0 ? [] : new[] { 3, 6 }, observed.Steps.Where(s => s.Full).Select(s => s.Step));
        Assert.All(observed.Steps.Where(s => !s.Full), s => Assert.Equal(banded.Statistics.Tiles, s.Thumbnails));
        if (mode == SyncMode.None) return;
        Assert.True(banded.Statistics.BytesPerStepBound > 0, "an overlapping layout has cells to exchange");
        Assert.InRange(banded.Statistics.BandBytesPerStep, 1, whole.Statistics.BytesPerStep - 1);
        Assert.Equal(0, whole.Statistics.BandBytesPerStep);
    }

    [Theory]
    [InlineData(SyncMode.Attention, 3, 5)]  // lost at step 5: back to the full exchange after step 3
    [InlineData(SyncMode.Average, 0, 4)]    // no full exchange before the last: back to the noise field
    [InlineData(SyncMode.Halo, 3, 6)]       // lost on the last step: back to step 6
    [InlineData(SyncMode.Attention, 3, 7)]  // lost while delivering the image after the last step: back to step 6
    [InlineData(SyncMode.Gaussian, 0, 7)]   // the same with no full exchange: back to the noise field
    public async Task A_run_rolled_back_to_its_last_full_exchange_gives_the_undisturbed_image(SyncMode mode, int fullEvery, int loseAt)
    {
        var spec = Spec(mode, eta: 1.0);
        using var undisturbed = await RunAsync(spec, null, null, plan => new InProcessTileRuntime(TestJobs.Denoiser, Scheduler(spec)));
        BandSchedule? schedule = null;
        RollingBackRuntime? runtime = null;
        using var recovered = await RunAsync(spec, plan => schedule = new BandSchedule(BandExchange.Create(plan, JobComponents.CreateSync(mode)), fullEvery),
            null, plan => runtime = new RollingBackRuntime(() => new InProcessTileRuntime(TestJobs.Denoiser, Scheduler(spec), bandExchange: schedule!.Exchange), loseAt));

        Assert.True(undisturbed.Canvas.IsSameAs(recovered.Canvas), $"{mode}: the rolled-back run differs");
        var expectedRestart = fullEvery == 0 ? 0 : Math.Min(loseAt, spec.Steps - 1) / fullEvery * fullEvery;
        Assert.Equal(expectedRestart, runtime!.RolledBackTo);
    }

    private static OrleansDiffusion.Diffusion.Schedulers.IScheduler Scheduler(JobSpec spec) => JobComponents.CreateScheduler(spec, TestJobs.Denoiser);

    private static async Task<EngineResult> RunAsync(JobSpec spec, Func<JobPlan, BandSchedule>? bands, IStepObserver? observer, Func<JobPlan, ITileRuntime> runtime)
    {
        var sync = JobComponents.CreateSync(spec.Sync);
        var plan = JobComponents.Plan(spec, TestJobs.Denoiser, sync);
        var schedule = bands?.Invoke(plan);
        await using var tiles = runtime(plan);
        return await new TiledDiffusionEngine(sync).RunAsync(plan, tiles, observer: observer, bands: schedule);
    }

    private sealed class Observer : IStepObserver
    {
        public List<(int Step, bool Full, int Thumbnails)> Steps { get; } = [];

        public ValueTask OnSyncedAsync(SyncedStep step, CancellationToken cancellationToken)
        {
            Steps.Add((step.StepsDone, step.IsFull, step.Thumbnails?.Count ?? 0));
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Loses every tile once, when step <paramref name="loseAt"/> is asked for (the step count: when the image is
    /// gathered after the last step): like the grain runtime it keeps the tiles' states from the last full exchange,
    /// re-creates every tile from them and throws the rollback.</summary>
    private sealed class RollingBackRuntime(Func<InProcessTileRuntime> create, int loseAt) : ITileRuntime
    {
        private InProcessTileRuntime _inner = create();
        private JobPlan? _plan;
        private Tensor[]? _states;      // before _statesStep; null: the noise field
        private Tensor[] _proposals = [];
        private int _statesStep;
        private bool _lost;

        public int? RolledBackTo { get; private set; }

        public async Task StartAsync(JobPlan plan, EngineStart? start, CancellationToken cancellationToken)
        {
            _plan = plan;
            await _inner.StartAsync(plan, start, cancellationToken);
        }

        public async Task<TileStepResult> DenoiseAsync(int step, bool bands, CancellationToken cancellationToken)
        {
            if (step == loseAt && !_lost) await LoseEveryTileAsync(cancellationToken);
            var denoised = await _inner.DenoiseAsync(step, bands, cancellationToken);
            foreach (var proposal in _proposals) proposal.Dispose();
            _proposals = denoised.Proposals.Select(p => p.clone()).ToArray();
            return denoised;
        }

        public async Task<long> ScatterAsync(int step, IReadOnlyList<Tensor?> updates, CancellationToken cancellationToken)
        {
            // The states each tile adopts: its synced window, or (under `none`) its own proposal.
            var kept = updates.Select((u, i) => u?.clone() ?? _proposals[i].clone()).ToArray();
            var sent = await _inner.ScatterAsync(step, updates, cancellationToken);
            foreach (var state in _states ?? []) state.Dispose();
            _states = kept;
            _statesStep = step + 1;
            return sent;
        }

        public Task<long> ScatterBandsAsync(int step, IReadOnlyList<BandReply> replies, CancellationToken cancellationToken) =>
            _inner.ScatterBandsAsync(step, replies, cancellationToken);

        public async Task<(Tensor Canvas, long Bytes)> GatherAsync(int step, IReadOnlyList<BandReply> replies, CancellationToken cancellationToken)
        {
            if (step + 1 == loseAt && !_lost) await LoseEveryTileAsync(cancellationToken);
            return await _inner.GatherAsync(step, replies, cancellationToken);
        }

        private async Task LoseEveryTileAsync(CancellationToken cancellationToken)
        {
            _lost = true;
            await _inner.DisposeAsync();
            _inner = create();
            using var states = _states is null ? null : TileStates.FromTiles(_states.Select(s => s.clone()).ToArray());
            await _inner.StartAsync(_plan!, states is null ? null : new EngineStart(_statesStep, states), cancellationToken);
            RolledBackTo = _statesStep;
            throw new TileRollbackException(_statesStep, "lost every tile");
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var state in (_states ?? []).Concat(_proposals)) state.Dispose();
            await _inner.DisposeAsync();
        }
    }
}
