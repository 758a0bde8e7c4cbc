using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using Xunit.Abstractions;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary><see cref="DiffusionClient"/> in this process, registered with its one host-builder call and connected
/// through the coordinator silo's gateway, against the two-silo Redis cluster.</summary>
[Collection(MultiProcessCluster.Name)]
public sealed class SdkAgainstClusterTests(RedisAndSilosFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private static readonly JobSpec Small = new() { Prompt = "bricks", Width = 128, Height = 128, Steps = 5, Seed = 7, Tile = 64, Overlap = 16 };
    private static readonly JobSpec Long = Small with { Steps = 400, Seed = 8 };
    private IHost? _host;
    private DiffusionClient Client => _host!.Services.GetRequiredService<DiffusionClient>();

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseDiffusionClient(o =>
        {
            o.Gateway = $"127.0.0.1:{cluster.GatewayPort}";
            o.ClusterId = cluster.ClusterId;
        });
        _host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _host.StartAsync(timeout.Token);
    }

    public async Task DisposeAsync()
    {
        output.WriteLine(cluster.Diagnostics());
        if (_host is null) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _host.StopAsync(timeout.Token);
        _host.Dispose();
    }

    [Theory]
    [InlineData("../escaped")]
    [InlineData("/tmp/odiff-absolute")]
    public async Task A_raw_orleans_client_cannot_write_outside_the_output_store_or_forge_jobs(string jobId)
    {
        var raw = _host!.Services.GetRequiredService<IClusterClient>(); // not the SDK: its checks are bypassed
        var before = Directory.EnumerateFileSystemEntries(cluster.Folder, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/redis/", StringComparison.Ordinal)).ToHashSet();
        var refused = await Assert.ThrowsAsync<InvalidJobException>(() => raw.GetGrain<ICoordinatorGrain>(jobId).SubmitAsync(Small));
        Assert.Contains(refused.Errors, e => e.Field == "job-id");
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => raw.GetGrain<IJobIndexGrain>(0).AdmitAsync(jobId, DateTimeOffset.UtcNow, 1000));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => raw.GetGrain<ITileGrain>($"{jobId}/1/0").ReleaseAsync());

        var after = Directory.EnumerateFileSystemEntries(cluster.Folder, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/redis/", StringComparison.Ordinal)).ToHashSet();
        Assert.Equal(before, after);
        Assert.False(File.Exists("/tmp/odiff-absolute.png"));
        Assert.False(File.Exists(Path.Combine(cluster.Folder, "escaped.png")));
        Assert.DoesNotContain(await Client.ListJobsAsync(), j => j.JobId == jobId);
    }

    [Fact]
    public async Task Submit_and_watch_yield_increasing_steps_and_the_result_stream_is_the_written_png()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var jobId = await Client.SubmitAsync(Small, cancellationToken: timeout.Token);
        Assert.Matches(@"^\d{8}-\d{6}-[0-9a-z]{6}$", jobId);

        var seen = new List<JobStatus>();
        await foreach (var status in Client.WatchAsync(jobId, timeout.Token)) seen.Add(status);
        var final = seen[^1];
        Assert.True(final.State == JobState.Completed, $"{final.State}: {final.Error}");
        Assert.Equal(Small.Steps, final.Step);
        Assert.All(seen.SkipLast(1), s => Assert.False(s.IsFinished));
        Assert.True(seen.Count >= 2);
        for (var i = 1; i < seen.Count; i++)
            Assert.True(seen[i].Step > seen[i - 1].Step || seen[i].State != seen[i - 1].State, "a status was yielded twice");
        Assert.Equal(seen.Select(s => s.Step).Order(), seen.Select(s => s.Step));

        using var copy = new MemoryStream();
        await using (var result = await Client.OpenResultAsync(jobId, timeout.Token))
            await result.CopyToAsync(copy, timeout.Token);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(cluster.OutputDirectory, $"{jobId}.png"), timeout.Token), copy.ToArray());
        Assert.Equal(final.OutputBytes, copy.Length);

        var listed = await Client.ListJobsAsync(cancellationToken: timeout.Token);
        Assert.Equal(JobState.Completed, Assert.Single(listed, s => s.JobId == jobId).State);
        output.WriteLine($"{jobId}: {seen.Count} statuses, steps {string.Join(",", seen.Select(s => s.Step))}, {final.ElapsedSeconds:F1} s");
    }

    [Fact]
    public async Task Cancel_stops_a_long_job_within_a_few_steps()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var jobId = await Client.SubmitAsync(Long, cancellationToken: timeout.Token);
        var cancelledAt = -1;
        JobStatus? final = null;
        await foreach (var status in Client.WatchAsync(jobId, timeout.Token))
        {
            final = status;
            if (cancelledAt < 0 && status.Step >= 2)
            {
                var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Client.OpenResultAsync(jobId, timeout.Token));
                Assert.Contains("running", error.Message);
                await Client.CancelAsync(jobId, timeout.Token);
                // Steps completed once the cancel was in: the step running then may finish, no further one.
                cancelledAt = (await Client.GetStatusAsync(jobId, timeout.Token))!.Step;
            }
        }
        Assert.Equal(JobState.Cancelled, final!.State);
        Assert.InRange(final.Step, cancelledAt, cancelledAt + 2);
        await Assert.ThrowsAsync<InvalidOperationException>(() => Client.OpenResultAsync(jobId, timeout.Token));
        Assert.Equal(JobState.Cancelled, (await Client.GetStatusAsync(jobId, timeout.Token))!.State);
        output.WriteLine($"{jobId}: cancelled when {cancelledAt} steps were done, stopped after step {final.Step} of {Long.Steps}");
    }

    [Fact]
    public async Task RunAsync_reports_progress_and_cancelling_its_token_cancels_the_job()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var reports = new List<JobStatus>();
        var completed = await Client.RunAsync(Small with { Steps = 2, Seed = 9 }, new Recorder(reports.Add), timeout.Token);
        Assert.Equal(JobState.Completed, completed.State);
        Assert.Same(completed, reports[^1]);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        string? jobId = null;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.RunAsync(Long with { Seed = 10 }, new Recorder(status =>
        {
            jobId = status.JobId;
            if (status.Step >= 1) stop.Cancel();
        }), stop.Token));
        Assert.NotNull(jobId);
        JobStatus? status;
        while (!(status = await Client.GetStatusAsync(jobId, timeout.Token))!.IsFinished) await Task.Delay(200, timeout.Token);
        Assert.Equal(JobState.Cancelled, status.State);
        Assert.True(status.Step < Long.Steps);
    }

    [Fact]
    public async Task Invalid_requests_change_nothing_and_unknown_jobs_are_reported()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var before = await Client.ListJobsAsync(1000, timeout.Token);

        var invalid = await Assert.ThrowsAsync<InvalidJobException>(() => Client.SubmitAsync(Small with { Width = 100, Steps = 0 }, cancellationToken: timeout.Token));
        Assert.Equal(["width", "steps"], invalid.Errors.Select(e => e.Field));
        var badId = await Assert.ThrowsAsync<InvalidJobException>(() => Client.SubmitAsync(Small, "a/b", timeout.Token));
        Assert.Equal("job-id", Assert.Single(badId.Errors).Field);
        Assert.Equal(before.Count, (await Client.ListJobsAsync(1000, timeout.Token)).Count);

        Assert.Null(await Client.GetStatusAsync("no-such-job", timeout.Token));
        await Assert.ThrowsAsync<JobNotFoundException>(async () =>
        {
            await foreach (var _ in Client.WatchAsync("no-such-job", timeout.Token))
            {
            }
        });
        await Assert.ThrowsAsync<JobNotFoundException>(() => Client.OpenResultAsync("no-such-job", timeout.Token));
        await Assert.ThrowsAsync<JobNotFoundException>(() => Client.CancelAsync("no-such-job", timeout.Token));
    }

    /// <summary>Reports synchronously, in order (unlike <see cref="Progress{T}"/>, which posts).</summary>
    private sealed class Recorder(Action<JobStatus> report) : IProgress<JobStatus>
    {
        public void Report(JobStatus value) => report(value);
    }
}
