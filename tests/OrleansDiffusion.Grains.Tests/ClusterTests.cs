using Microsoft.Extensions.DependencyInjection;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>Four silos in one process: two coordinator/gateway silos and two accelerator silos.</summary>
public sealed class FourSiloClusterFixture : IAsyncLifetime
{
    public TempDirectory Outputs { get; } = new();
    public EmbeddedCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator, SiloRole.Coordinator, SiloRole.Worker, SiloRole.Worker], Outputs.Path);

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Outputs.Dispose();
    }
}

public class ClusterTests(FourSiloClusterFixture fixture) : IClassFixture<FourSiloClusterFixture>
{
    [Theory]
    [InlineData(SyncMode.None)]
    [InlineData(SyncMode.Average)]
    [InlineData(SyncMode.Gaussian)]
    [InlineData(SyncMode.Attention)]
    [InlineData(SyncMode.Halo)]
    public async Task Cluster_image_equals_the_in_process_engine_image_bit_for_bit(SyncMode sync)
    {
        var spec = ClusterJobs.Spec(sync);
        var status = await ClusterJobs.RunAsync(fixture.Cluster, spec);

        Assert.True(status.State == JobState.Completed, status.Error);
        var clusterPng = await File.ReadAllBytesAsync(Path.Combine(fixture.Outputs.Path, status.OutputPath!));
        Assert.Equal(await ClusterJobs.InProcessPngAsync(spec, fixture.Outputs.Path), clusterPng);
    }

    [Fact]
    public async Task Tiles_land_only_on_accelerator_silos_and_evenly()
    {
        var status = await ClusterJobs.RunAsync(fixture.Cluster, ClusterJobs.Spec());
        Assert.Equal(JobState.Completed, status.State);
        var silos = status.TilePlacement!.Select(p => p.Split('/')[0]).ToList();
        Assert.Equal(status.Tiles, silos.Count);
        Assert.All(silos, s => Assert.Contains(s, new[] { "silo2", "silo3" }));
        Assert.Equal(silos.Count / 2, silos.Count(s => s == "silo2"));
        Assert.Equal(2, status.Statistics!.Silos);
    }

    [Fact]
    public async Task Cancellation_stops_every_tile_within_one_step_and_frees_the_devices()
    {
        var spec = ClusterJobs.Spec(steps: 200) with { Width = 256, Height = 256 };
        var coordinator = fixture.Cluster.Client.GetGrain<ICoordinatorGrain>($"cancel-{Guid.NewGuid():N}");
        await coordinator.SubmitAsync(spec);
        var running = await ClusterJobs.WaitForAsync(coordinator, s => s.Step >= 2);
        Assert.Equal(JobState.Running, running.State);
        await coordinator.CancelAsync();
        var final = await ClusterJobs.WaitAsync(coordinator);

        Assert.Equal(JobState.Cancelled, final.State);
        Assert.True(final.Step < spec.Steps, $"the job ran to step {final.Step} of {spec.Steps}");
        var pools = fixture.Cluster.Silos.Select(s => s.Services.GetService<DeviceExecutorPool>()).OfType<DeviceExecutorPool>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (pools.Sum(p => p.Executors.Sum(e => e.Tiles)) > 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(0, pools.Sum(p => p.Executors.Sum(e => e.Tiles)));
    }

    [Fact]
    public async Task Progress_carries_per_step_timings_and_a_small_preview_png()
    {
        var spec = ClusterJobs.Spec(steps: 6) with { Width = 256, Height = 192 };
        var coordinator = fixture.Cluster.Client.GetGrain<ICoordinatorGrain>($"preview-{Guid.NewGuid():N}");
        await coordinator.SubmitAsync(spec);
        var running = await ClusterJobs.WaitForAsync(coordinator, s => s.Step >= 1 && s.Preview is not null);
        Assert.InRange(running.Step, 1, spec.Steps);
        Assert.True(running.LastStepDenoiseSeconds > 0);
        Assert.NotNull(running.Preview);
        var file = Path.Combine(fixture.Outputs.Path, $"preview-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(file, running.Preview);
        Assert.Equal((128, 96, 8), Diffusion.Imaging.PngReader.ReadHeader(file));
        Assert.Equal(JobState.Completed, (await ClusterJobs.WaitAsync(coordinator)).State);
    }

    [Fact]
    public async Task The_registry_lists_jobs_with_their_states()
    {
        var id = $"listed-{Guid.NewGuid():N}";
        await ClusterJobs.RunAsync(fixture.Cluster, ClusterJobs.Spec(steps: 2), id);
        var jobs = await fixture.Cluster.Client.GetGrain<IJobRegistryGrain>(0).ListAsync(100);
        var job = Assert.Single(jobs, j => j.JobId == id);
        Assert.Equal(JobState.Completed, job.State);
    }

    [Fact]
    public async Task Invalid_specs_are_rejected_by_the_coordinator()
    {
        var coordinator = fixture.Cluster.Client.GetGrain<ICoordinatorGrain>($"bad-{Guid.NewGuid():N}");
        var error = await Assert.ThrowsAsync<InvalidJobException>(() => coordinator.SubmitAsync(ClusterJobs.Spec() with { Overlap = 64 }));
        Assert.Contains(error.Errors, e => e.Field == "overlap");
        Assert.Null(await coordinator.GetStatusAsync());
    }
}
