using Microsoft.Extensions.Options;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>A job submitted while no accelerator silo is in the cluster waits for one (up to WorkerWaitTimeout) instead of
/// failing at once: a coordinator-only silo resolves no implementation of the tile grain until a worker's grain types
/// reach its manifest.</summary>
public class WorkerWaitTests
{
    [Fact]
    public async Task A_job_without_any_worker_waits_for_one_and_then_fails_naming_the_wait()
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.Coordinator], outputs.Path, o => o.WorkerWaitTimeout = TimeSpan.FromSeconds(2));
        var coordinator = cluster.Client.GetGrain<ICoordinatorGrain>($"job-{Guid.NewGuid():N}");
        await coordinator.SubmitAsync(ClusterJobs.Spec(SyncMode.Average, steps: 2));
        var waiting = await ClusterJobs.WaitForAsync(coordinator, s => s.Detail?.StartsWith("waiting for an accelerator silo", StringComparison.Ordinal) == true);
        Assert.False(waiting.IsFinished, $"the job finished before it waited: {waiting.State} {waiting.Error}");
        var final = await ClusterJobs.WaitAsync(coordinator);
        Assert.Equal(JobState.Failed, final.State);
        Assert.Contains("no accelerator silo took", final.Error);
    }

    [Fact]
    public void A_worker_wait_under_a_second_is_refused_at_start_naming_the_key()
    {
        var error = Assert.Throws<OptionsValidationException>(() => DiffusionSiloOptionsValidator.EnsureValid(new DiffusionSiloOptions { WorkerWaitTimeout = TimeSpan.FromMilliseconds(500) }));
        Assert.Contains("WorkerWaitTimeout", error.Message);
    }
}
