using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using Xunit.Abstractions;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>A multi-process cluster of a test's own (tests that kill or restart its processes) with an SDK client in this
/// process, and the watch and fetch steps such tests repeat.</summary>
internal sealed class OwnCluster(int workers, int coordinators, ITestOutputHelper output) : IAsyncDisposable
{
    private IHost? _host;

    public RedisAndSilosFixture Processes { get; } = new(workers, coordinators);

    public DiffusionClient Client => _host!.Services.GetRequiredService<DiffusionClient>();

    public async Task StartAsync()
    {
        await Processes.InitializeAsync();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseDiffusionClient(o =>
        {
            o.Redis = Processes.Redis;
            o.ClusterId = Processes.ClusterId;
        });
        _host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _host.StartAsync(timeout.Token);
    }

    /// <summary>Watches the job until a status satisfies <paramref name="condition"/> or the job finishes.</summary>
    public async Task<JobStatus> WatchUntilAsync(string jobId, Func<JobStatus, bool> condition, CancellationToken cancellationToken)
    {
        await foreach (var status in Client.WatchAsync(jobId, cancellationToken))
            if (condition(status) || status.IsFinished) return status;
        throw new InvalidOperationException($"the watch of {jobId} ended without a finished status");
    }

    public async Task<byte[]> FetchAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var stream = await Client.OpenResultAsync(jobId, cancellationToken);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, cancellationToken);
        return copy.ToArray();
    }

    /// <summary>Runs <paramref name="spec"/> undisturbed and returns its PNG.</summary>
    public async Task<(JobStatus Status, byte[] Png)> RunAndFetchAsync(JobSpec spec, CancellationToken cancellationToken)
    {
        var status = await Client.RunAsync(spec, cancellationToken: cancellationToken);
        Assert.True(status.State == JobState.Completed, status.Error);
        return (status, await FetchAsync(status.JobId, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        output.WriteLine(Processes.Diagnostics());
        if (_host is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _host.StopAsync(timeout.Token);
            _host.Dispose();
        }
        await Processes.DisposeAsync();
    }
}
