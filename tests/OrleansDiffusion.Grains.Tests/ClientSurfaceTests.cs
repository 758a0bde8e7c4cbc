using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>What a raw Orleans client (not the SDK) can and cannot do: submit, watch, cancel, list and fetch, and
/// nothing else; every value it sends is checked again on the silo, and no path it sends can leave the output store.</summary>
public class ClientSurfaceTests
{
    [Fact]
    public async Task A_client_cannot_call_tile_grains_or_write_to_the_job_index()
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.All], outputs.Path);
        var spec = ClusterJobs.Spec(SyncMode.None, steps: 3);
        var (channels, maxHalo, _) = JobComponents.DenoiserShape(spec);
        var plan = JobComponents.Plan(spec, channels, maxHalo, JobComponents.CreateSync(spec.Sync));
        var tile = cluster.Client.GetGrain<ITileGrain>("forged/1/0");
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => tile.InitializeAsync(new TileAssignment
        {
            JobId = "forged", Epoch = 1, Spec = spec, Window = plan.Layout.Windows[0], CanvasWidth = spec.Width, CanvasHeight = spec.Height,
            TileWidth = plan.Layout.TileWidth, TileHeight = plan.Layout.TileHeight, Context = plan.Context, Channels = channels, TileCount = plan.Layout.Count,
        }));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => tile.DenoiseAsync(new StepCall("forged", 1, 0), null, TimeSpan.FromSeconds(1)));
        var silo = cluster.Silos[0].Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => cluster.Client.GetGrain<ITileHostGrain>(silo.ToParsableString())
            .DenoiseAsync(new StepCall("forged", 1, 0), [new TileCall(0, null)], TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => cluster.Client.GetGrain<IJobIndexGrain>(0).AdmitAsync("forged", DateTimeOffset.UtcNow, 1000));
        Assert.DoesNotContain(await cluster.Client.GetGrain<IJobRegistryGrain>(0).ListAsync(100), j => j.JobId == "forged");
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/tmp/absolute")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("job\u0000")]
    public async Task Job_ids_with_path_characters_are_refused_by_the_silo_and_nothing_is_written(string jobId)
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.All], outputs.Path);
        var coordinator = cluster.Client.GetGrain<ICoordinatorGrain>(jobId);
        var error = await Assert.ThrowsAsync<InvalidJobException>(() => coordinator.SubmitAsync(ClusterJobs.Spec(steps: 1)));
        Assert.Contains(error.Errors, e => e.Field == "job-id");
        Assert.Empty(Directory.EnumerateFileSystemEntries(outputs.Path, "*", SearchOption.AllDirectories));
        Assert.Empty(await cluster.Client.GetGrain<IJobRegistryGrain>(0).ListAsync(100));
    }

    [Fact]
    public async Task Submitting_an_existing_id_returns_that_job_with_the_same_spec_and_is_refused_with_another()
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.All], outputs.Path);
        var spec = ClusterJobs.Spec(steps: 2);
        var coordinator = cluster.Client.GetGrain<ICoordinatorGrain>("same-id");
        var first = await coordinator.SubmitAsync(spec);
        var again = await coordinator.SubmitAsync(spec);
        Assert.Equal(first.CreatedAt, again.CreatedAt);
        var error = await Assert.ThrowsAsync<InvalidJobException>(() => coordinator.SubmitAsync(spec with { Seed = 99 }));
        Assert.Contains(error.Errors, e => e.Field == "job-id");
        var done = await ClusterJobs.WaitAsync(coordinator);
        Assert.Equal(JobState.Completed, done.State);
        Assert.Equal(spec, done.Spec);
        Assert.Equal("same-id.png", done.OutputPath); // a file name in the store: no server-side path leaves the silo
    }

    [Fact]
    public async Task A_full_queue_refuses_new_jobs_with_a_retry_hint_and_records_nothing()
    {
        using var outputs = new TempDirectory();
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.All], outputs.Path, o => o.MaxQueuedJobs = 1);
        var running = cluster.Client.GetGrain<ICoordinatorGrain>("long");
        await running.SubmitAsync(ClusterJobs.Spec(steps: 200));
        var refused = cluster.Client.GetGrain<ICoordinatorGrain>("refused");
        var busy = await Assert.ThrowsAsync<ClusterBusyException>(() => refused.SubmitAsync(ClusterJobs.Spec(steps: 1)));
        Assert.True(busy.RetryAfter > TimeSpan.Zero);
        Assert.Null(await refused.GetStatusAsync());
        await running.CancelAsync();
        Assert.Equal(JobState.Cancelled, (await ClusterJobs.WaitAsync(running)).State);
        await refused.SubmitAsync(ClusterJobs.Spec(steps: 1)); // the place is free again
        Assert.Equal(JobState.Completed, (await ClusterJobs.WaitAsync(refused)).State);
    }
}

/// <summary>No call waits on long work: a job whose steps take many times Orleans' response timeout completes.</summary>
public class LongStepTests
{
    [Fact]
    public async Task Steps_far_longer_than_the_response_timeout_do_not_fail_the_job()
    {
        using var outputs = new TempDirectory();
        var timeout = TimeSpan.FromSeconds(1);
        await using var cluster = await EmbeddedCluster.StartAsync([SiloRole.All], outputs.Path, o => o.ResponseTimeout = timeout);
        var spec = ClusterJobs.Spec(SyncMode.Average, steps: 3) with { Width = 1536, Height = 1536, Tile = 512, Overlap = 64 };
        var coordinator = cluster.Client.GetGrain<ICoordinatorGrain>("long-steps");
        while (true)
        {
            try
            {
                await coordinator.SubmitAsync(spec);
                break;
            }
            catch (TimeoutException)
            {
                // A busy machine may answer the submit late; submitting the same spec again is idempotent.
            }
        }
        JobStatus? status = null;
        var giveUp = DateTime.UtcNow + TimeSpan.FromMinutes(5); // a guard against hanging, not a measurement
        do
        {
            Assert.True(DateTime.UtcNow < giveUp, $"no final status after 5 minutes; last: {status?.State}");
            await Task.Delay(200);
            try
            {
                status = await coordinator.GetStatusAsync();
            }
            catch (TimeoutException)
            {
                // The test's own status call has the same 1 s timeout: a loaded machine may answer it late. What is
                // tested is the job, which must still complete.
            }
        }
        while (status is not { IsFinished: true });

        Assert.True(status!.State == JobState.Completed, status.Error);
        var stepSeconds = status.Statistics!.Seconds / spec.Steps;
        Assert.True(stepSeconds > timeout.TotalSeconds, $"steps took {stepSeconds:0.00} s, not longer than the {timeout.TotalSeconds} s timeout: the test shows nothing");
    }
}
