using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;

namespace OrleansDiffusion.Diffusion.Tests.Engine;

public class EngineTests
{
    [Theory]
    [InlineData(SyncMode.Attention, SchedulerKind.Ddim)]
    [InlineData(SyncMode.Average, SchedulerKind.Euler)]
    public void Same_seed_gives_the_same_image_and_another_seed_does_not(SyncMode sync, SchedulerKind scheduler)
    {
        var spec = TestJobs.Spec(128, 64, 16, sync, steps: 6) with { Scheduler = scheduler };
        using var first = TestJobs.Run(spec);
        using var second = TestJobs.Run(spec);
        using var other = TestJobs.Run(spec with { Seed = spec.Seed + 1 });
        Assert.True(first.Canvas.IsSameAs(second.Canvas));
        Assert.False(first.Canvas.IsSameAs(other.Canvas));
    }

    [Fact]
    public void Output_is_a_real_image_in_range_with_structure()
    {
        using var result = TestJobs.Run(TestJobs.Spec(128, 64, 16, SyncMode.Attention, steps: 10));
        Assert.Equal([3, 128, 128], result.Canvas.shape);
        Assert.InRange(result.Canvas.min().item<float>(), -1f, 1f);
        Assert.InRange(result.Canvas.max().item<float>(), -1f, 1f);
        Assert.True(result.Canvas.std().item<float>() > 0.05f, "the image is flat");
        Assert.True(result.Statistics.DenoiseSeconds > 0);
        Assert.True(result.Statistics.BytesPerStep > 0);
    }

    [Fact]
    public void Eta_noise_comes_from_the_shared_field_so_tilings_agree_in_halo_mode()
    {
        var spec = TestJobs.Spec(128, 128, 0, SyncMode.Halo, steps: 8) with { Eta = 1 };
        using var untiled = TestJobs.Run(spec);
        using var tiled = TestJobs.Run(spec with { Tile = 48 });
        Assert.True(TensorAssertions.MaxDifference(tiled.Canvas, untiled.Canvas) <= 1f / 255);
    }

    [Fact]
    public async Task Progress_is_reported_every_step_and_cancellation_stops_the_job()
    {
        var spec = TestJobs.Spec(96, 48, 16, SyncMode.Gaussian, steps: 5);
        var seen = new List<StepProgress>();
        using (await LocalGeneration.RunAsync(spec, TestJobs.Denoiser, new SynchronousProgress(seen.Add)))
        {
        }
        Assert.Equal([1, 2, 3, 4, 5], seen.Select(p => p.Step));
        Assert.All(seen, p => Assert.Equal(spec.Steps, p.Steps));

        using var cancel = new CancellationTokenSource();
        var steps = 0;
        var progress = new SynchronousProgress(p => { steps = p.Step; if (p.Step == 2) cancel.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            LocalGeneration.RunAsync(spec, TestJobs.Denoiser, progress, cancellationToken: cancel.Token));
        Assert.Equal(2, steps);
    }

    [Fact]
    public async Task Invalid_specs_are_rejected_before_any_work()
    {
        var error = await Assert.ThrowsAsync<InvalidJobException>(() =>
            LocalGeneration.RunAsync(TestJobs.Spec(128, 64, 64, SyncMode.Average), TestJobs.Denoiser));
        Assert.Contains(error.Errors, e => e.Field == "overlap");
    }

    private sealed class SynchronousProgress(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }
}
