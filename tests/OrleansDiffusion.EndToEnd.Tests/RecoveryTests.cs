using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using Xunit.Abstractions;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>
/// Jobs survive their silos, with real processes: a Redis, two worker and two coordinator silos. A worker and then
/// the job's own coordinator are killed with SIGKILL mid-job; each job completes, and its PNG equals the undisturbed
/// run's byte for byte. Kills happen after a step the watch has seen, never on a timer.
/// </summary>
public sealed class RecoveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly JobSpec Spec = new() { Prompt = "bricks", Width = 192, Height = 192, Steps = 12, Seed = 21, Tile = 64, Overlap = 16 };
    private readonly OwnCluster _own = new(workers: 2, coordinators: 2, output);
    private RedisAndSilosFixture Cluster => _own.Processes;
    private DiffusionClient Client => _own.Client;

    public Task InitializeAsync() => _own.StartAsync();

    public async Task DisposeAsync() => await _own.DisposeAsync();

    [Fact]
    public async Task Jobs_complete_byte_identically_after_a_worker_and_then_their_coordinator_are_killed()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        var (undisturbed, expected) = await _own.RunAndFetchAsync(Spec, timeout.Token);

        // kill -9 a worker that holds tiles, after step 3 of 12
        var workerJob = await Client.SubmitAsync(Spec, "after-worker-kill", timeout.Token);
        var running = await _own.WatchUntilAsync(workerJob, s => s.Step >= 3 && s.TilePlacement is not null || s.TileDetails?.Any(t => t.Silo is not null) == true, timeout.Token);
        var victim = running.TileDetails!.First(t => t.Silo is not null).Silo!;
        var killed = System.Diagnostics.Stopwatch.StartNew();
        Cluster.Kill(victim);
        var detected = await _own.WatchUntilAsync(workerJob, s => s.Recoveries > 0, timeout.Token);
        var detection = killed.Elapsed;
        var recovered = await _own.WatchUntilAsync(workerJob, s => s.IsFinished, timeout.Token);
        output.WriteLine($"worker kill: recovery started {detection.TotalSeconds:0.0} s after the kill ({detected.Detail}); job done {killed.Elapsed.TotalSeconds:0.0} s after it; " +
            $"job {recovered.ElapsedSeconds:0.0} s vs undisturbed {undisturbed.ElapsedSeconds:0.0} s");
        Assert.True(recovered.State == JobState.Completed, recovered.Error);
        Assert.Equal(expected, await _own.FetchAsync(workerJob, timeout.Token));
        Assert.DoesNotContain(recovered.TilePlacement!, p => p.StartsWith(victim + "/", StringComparison.Ordinal));

        // kill -9 the silo whose coordinator runs the job (the other coordinator is up): the job resumes from its checkpoint
        var coordinatorJob = await Client.SubmitAsync(Spec, "after-coordinator-kill", timeout.Token);
        running = await _own.WatchUntilAsync(coordinatorJob, s => s.Step >= 6, timeout.Token);
        killed.Restart();
        Cluster.Kill(running.Coordinator!);
        var listed = await Client.ListJobsAsync(cancellationToken: timeout.Token); // the job list survives its coordinator
        Assert.Contains(listed, j => j.JobId == coordinatorJob);
        var resumedRun = await _own.WatchUntilAsync(coordinatorJob, s => s.Epoch >= 2, timeout.Token);
        var resumeDetection = killed.Elapsed;
        var resumed = await _own.WatchUntilAsync(coordinatorJob, s => s.IsFinished, timeout.Token);
        output.WriteLine($"coordinator kill: resumed at epoch {resumedRun.Epoch} from step {resumedRun.Step} {resumeDetection.TotalSeconds:0.0} s after the kill; job done {killed.Elapsed.TotalSeconds:0.0} s after it; " +
            $"job {resumed.ElapsedSeconds:0.0} s (since first start) vs undisturbed {undisturbed.ElapsedSeconds:0.0} s; checkpoints {resumed.CheckpointSeconds:0.000} s = {100 * resumed.CheckpointSeconds / resumed.ElapsedSeconds:0.0}% of the job");
        Assert.True(resumed.State == JobState.Completed, resumed.Error);
        Assert.True(resumed.Epoch >= 2, $"epoch {resumed.Epoch}: the job was not resumed");
        Assert.NotEqual(running.Coordinator, resumed.Coordinator);
        Assert.Equal(expected, await _own.FetchAsync(coordinatorJob, timeout.Token));
        Assert.Equal(expected, await _own.FetchAsync(undisturbed.JobId, timeout.Token)); // finished jobs stay fetchable

        // Redis data loss takes the membership table away: the surviving silos stop reporting ready instead of staying
        // green in a split cluster.
        var survivors = Cluster.Silos.Where(s => !s.Process.HasExited).ToList();
        Assert.All(survivors, s => Assert.True(RedisAndSilosFixture.IsReadyAsync(s.HttpPort).GetAwaiter().GetResult(), $"{s.Name} is not ready before the flush"));
        await Cluster.FlushRedisAsync();
        foreach (var silo in survivors)
            while (await RedisAndSilosFixture.IsReadyAsync(silo.HttpPort)) await Task.Delay(500, timeout.Token);
    }
}
