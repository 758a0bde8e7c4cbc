using System.Net;
using System.Net.Http.Json;
using OrleansDiffusion.Abstractions;
using Xunit.Abstractions;

namespace OrleansDiffusion.Api.Tests;

[Collection(ApiCollection.Name)]
public class ConcurrencyTests(ApiFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Fifty_concurrent_submits_are_each_accepted_or_refused_with_429_and_every_accepted_job_completes()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            using var response = await fixture.Http.PostAsJsonAsync("v1/jobs", ApiFixture.SmallSpec(seed: 5000 + i));
            var json = await ApiFixture.JsonAsync(response);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) Assert.NotNull(response.Headers.RetryAfter);
            return (response.StatusCode, Id: response.StatusCode == HttpStatusCode.Accepted ? json.GetProperty("job_id").GetString() : null);
        }));
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests }));
        var accepted = responses.Where(r => r.Id is not null).Select(r => r.Id!).ToList();
        Assert.Equal(accepted.Count, accepted.Distinct().Count());
        var listed = await fixture.JobIdsAsync();
        Assert.All(accepted, id => Assert.Contains(id, listed));
        var finals = await Task.WhenAll(accepted.Select(fixture.WaitAsync));
        Assert.All(finals, f => Assert.Equal(JobState.Completed, f.State));
        var line = $"50 concurrent submits: {accepted.Count} accepted, {responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests)} refused with 429, {finals.Length} completed";
        output.WriteLine(line);
        await File.AppendAllTextAsync(Artifacts.File("measurements.txt"), line + "\n");
    }
}
