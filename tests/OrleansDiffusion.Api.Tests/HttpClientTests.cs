using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;
using OrleansDiffusion.Client.Http;

namespace OrleansDiffusion.Api.Tests;

[Collection(ApiCollection.Name)]
public class HttpClientTests(ApiFixture fixture)
{
    private static JobSpec Spec(long seed) => new() { Prompt = "clouds", Width = 64, Height = 64, Tile = 32, Overlap = 16, Sync = SyncMode.Average, Steps = 2, Seed = seed };

    [Fact]
    public async Task The_http_client_submits_watches_lists_and_fetches_like_the_orleans_client()
    {
        var client = new DiffusionHttpClient(fixture.Http, ApiFixture.Key);
        var seen = new List<JobStatus>();
        var final = await client.RunAsync(Spec(7001), new SynchronousProgress(seen.Add));
        Assert.Equal(JobState.Completed, final.State);
        Assert.Equal(2, final.Step);
        Assert.Equal(Spec(7001), final.Spec);
        Assert.Equal(seen.Select(s => s.Step).Order(), seen.Select(s => s.Step));
        Assert.Contains(await client.ListJobsAsync(), j => j.JobId == final.JobId);
        Assert.Equal(JobState.Completed, (await client.GetStatusAsync(final.JobId))!.State);
        await using var overHttp = await client.OpenResultAsync(final.JobId);
        await using var overOrleans = await fixture.Sdk.OpenResultAsync(final.JobId);
        Assert.Equal(await ReadAsync(overOrleans), await ReadAsync(overHttp));

        var same = await client.SubmitAsync(Spec(7002), "retry-key-7002");
        Assert.Equal(same, await client.SubmitAsync(Spec(7002), "retry-key-7002"));
        await client.CancelAsync(same);
    }

    [Fact]
    public async Task The_http_client_reports_errors_as_the_sdk_exceptions()
    {
        var client = new DiffusionHttpClient(fixture.Http, ApiFixture.Key);
        var invalid = await Assert.ThrowsAsync<InvalidJobException>(() => client.SubmitAsync(Spec(1) with { Width = 65, Steps = 0 }));
        Assert.Contains(invalid.Errors, e => e.Field == "width");
        Assert.Contains(invalid.Errors, e => e.Field == "steps");
        Assert.Null(await client.GetStatusAsync("no-such-job"));
        await Assert.ThrowsAsync<JobNotFoundException>(() => client.CancelAsync("no-such-job"));
        var anonymous = new DiffusionHttpClient(fixture.Anonymous);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => anonymous.ListJobsAsync());
    }

    private static async Task<byte[]> ReadAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private sealed class SynchronousProgress(Action<JobStatus> report) : IProgress<JobStatus>
    {
        public void Report(JobStatus value) => report(value);
    }
}
