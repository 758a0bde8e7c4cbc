using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;

namespace OrleansDiffusion.Diffusion.Tests.Engine;

/// <summary>A run resumed from the tile states after step k (a checkpoint) computes exactly what the undisturbed run
/// does: recovery after a lost coordinator or worker must not change a single bit of the image.</summary>
public class ResumeTests
{
    [Theory]
    [InlineData(SyncMode.None, 0.0)]
    [InlineData(SyncMode.Average, 0.0)]
    [InlineData(SyncMode.Attention, 0.0)]
    [InlineData(SyncMode.Halo, 1.0)]
    public async Task Resuming_from_a_snapshot_gives_the_undisturbed_image_bit_for_bit(SyncMode sync, double eta)
    {
        var spec = TestJobs.Spec(96, 48, sync == SyncMode.Halo ? 0 : 16, sync, steps: 6) with { Eta = eta };
        const int resumeAfter = 3;
        var capture = new Capture(resumeAfter);
        using var undisturbed = await RunAsync(spec, null, capture);
        using var snapshot = capture.States ?? throw new InvalidOperationException("no step was observed");

        using var resumed = await RunAsync(spec, new EngineStart(resumeAfter, snapshot), null);

        Assert.True(undisturbed.Canvas.IsSameAs(resumed.Canvas), "the resumed run differs from the undisturbed one");
        Assert.Equal(capture.Observed, Enumerable.Range(1, spec.Steps - 1));
    }

    [Fact]
    public async Task A_resume_point_outside_the_run_is_refused()
    {
        var spec = TestJobs.Spec(64, 32, 8, SyncMode.Average, steps: 3);
        using var states = TileStates.FromCanvas(TorchSharp.torch.zeros(3, 64, 64));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => RunAsync(spec, new EngineStart(3, states), null));
    }

    private static async Task<EngineResult> RunAsync(JobSpec spec, EngineStart? start, IStepObserver? observer)
    {
        var denoiser = TestJobs.Denoiser;
        var sync = JobComponents.CreateSync(spec.Sync);
        var plan = JobComponents.Plan(spec, denoiser, sync);
        await using var runtime = new InProcessTileRuntime(denoiser, JobComponents.CreateScheduler(spec, denoiser));
        return await new TiledDiffusionEngine(sync).RunAsync(plan, runtime, start: start, observer: observer);
    }

    private sealed class Capture(int at) : IStepObserver
    {
        public TileStates? States { get; private set; }
        public List<int> Observed { get; } = [];

        public ValueTask OnSyncedAsync(SyncedStep step, CancellationToken cancellationToken)
        {
            Observed.Add(step.StepsDone);
            if (step.StepsDone == at) States = step.Snapshot();
            return ValueTask.CompletedTask;
        }
    }
}
