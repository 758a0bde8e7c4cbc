using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using Xunit.Abstractions;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>
/// A Redis, three worker silos and a coordinator, all real processes. A worker drained with SIGTERM mid-job, a Redis
/// restart (AOF) mid-job, and a worker killed with SIGKILL under 12 concurrent jobs: every job completes, none is
/// marked failed, and every PNG equals its undisturbed run byte for byte. Disturbances follow steps the watch has
/// seen, never a timer.
/// </summary>
public sealed class DrainAndRestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly JobSpec Spec = new() { Prompt = "marble", Width = 160, Height = 160, Steps = 10, Seed = 31, Tile = 64, Overlap = 16 };
    private readonly OwnCluster _own = new(workers: 3, coordinators: 1, output);
    private RedisAndSilosFixture Cluster => _own.Processes;
    private DiffusionClient Client => _own.Client;

    public Task InitializeAsync() => _own.StartAsync();

    public async Task DisposeAsync() => await _own.DisposeAsync();

    [Fact]
    public async Task A_drained_worker_a_restarted_redis_and_a_killed_worker_under_load_cost_no_job_and_no_bit()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        var ct = timeout.Token;
        var expected = (await _own.RunAndFetchAsync(Spec, ct)).Png;

        // SIGTERM a worker that holds tiles: it drains (readiness false, tiles deactivated), the job moves on.
        var drained = await Client.SubmitAsync(Spec, "after-drain", ct);
        var running = await _own.WatchUntilAsync(drained, s => s.Step >= 3 && s.TileDetails?.Any(t => t.Silo is not null) == true, ct);
        var victim = running.TileDetails!.First(t => t.Silo is not null).Silo!;
        Cluster.Terminate(victim);
        var done = await _own.WatchUntilAsync(drained, s => s.IsFinished, ct);
        Assert.True(done.State == JobState.Completed, done.Error);
        Assert.Equal(expected, await _own.FetchAsync(drained, ct));
        await Cluster.WaitForExitAsync(victim, TimeSpan.FromMinutes(3)); // a graceful stop ends by itself

        // Restart Redis (AOF) mid-job: membership, the job's record and its reminder come back; nothing is lost.
        var restarted = await Client.SubmitAsync(Spec, "after-redis-restart", ct);
        await _own.WatchUntilAsync(restarted, s => s.Step >= 3, ct);
        await Cluster.RestartRedisAsync();
        done = await _own.WatchUntilAsync(restarted, s => s.IsFinished, ct);
        Assert.True(done.State == JobState.Completed, done.Error);
        Assert.Equal(expected, await _own.FetchAsync(restarted, ct));

        // 12 concurrent jobs (4 seeds, 3 copies) while one of the two remaining workers is killed.
        var seeds = new long[] { 41, 42, 43, 44 };
        var small = Spec with { Width = 128, Height = 128, Steps = 8 };
        var solo = new Dictionary<long, byte[]>();
        foreach (var seed in seeds) solo[seed] = (await _own.RunAndFetchAsync(small with { Seed = seed }, ct)).Png;
        var ids = new List<(string Id, long Seed)>();
        for (var i = 0; i < 12; i++)
        {
            var seed = seeds[i % seeds.Length];
            ids.Add((await Client.SubmitAsync(small with { Seed = seed }, $"load-{i}", ct), seed));
        }
        running = await _own.WatchUntilAsync(ids[0].Id, s => s.Step >= 2 && s.TileDetails?.Any(t => t.Silo is not null) == true, ct);
        Cluster.Kill(running.TileDetails!.First(t => t.Silo is not null).Silo!);
        foreach (var (id, seed) in ids)
        {
            var final = await _own.WatchUntilAsync(id, s => s.IsFinished, ct);
            Assert.True(final.State == JobState.Completed, $"{id}: {final.State} {final.Error}");
            Assert.Equal(solo[seed], await _own.FetchAsync(id, ct));
        }
        Assert.DoesNotContain(await Client.ListJobsAsync(cancellationToken: ct), j => j.State == JobState.Failed);
    }
}
