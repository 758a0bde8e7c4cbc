using System.Net;
using System.Net.Http.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Api.Jobs;
using Xunit.Abstractions;

namespace OrleansDiffusion.Api.Tests;

/// <summary>A burst of submits against a cluster that admits eight jobs at a time.</summary>
[Collection(QueueOfEightCollection.Name)]
public class ConcurrencyTests(QueueOfEightFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Fifty_concurrent_submits_are_each_accepted_or_refused_with_429_and_every_accepted_job_completes()
    {
        const int submits = 50;
        var run = Guid.NewGuid().ToString("N")[..8];
        var responses = await Task.WhenAll(Enumerable.Range(0, submits).Select(async i =>
        {
            // Each submit names its job through its Idempotency-Key, so a refused one can be looked up too.
            var key = $"burst-{run}-{i}";
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/jobs") { Content = JsonContent.Create(ApiFixture.SmallSpec(seed: 5000 + i)) };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await fixture.Http.SendAsync(request);
            var json = await ApiFixture.JsonAsync(response);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.NotNull(response.Headers.RetryAfter?.Delta);
                Assert.Equal(429, json.GetProperty("status").GetInt32());
                Assert.Equal(QueueOfEightFixture.Capacity, json.GetProperty("capacity").GetInt32());
            }
            else if (response.StatusCode == HttpStatusCode.Accepted)
            {
                Assert.Equal(IdempotencyKeys.JobId(key), json.GetProperty("job_id").GetString());
            }
            return (response.StatusCode, Id: IdempotencyKeys.JobId(key));
        }));
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests }));
        var accepted = responses.Where(r => r.StatusCode == HttpStatusCode.Accepted).Select(r => r.Id).ToList();
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).Select(r => r.Id).ToList();
        // A submit is refused only while eight jobs are admitted, so at least eight were.
        Assert.True(accepted.Count >= QueueOfEightFixture.Capacity, $"only {accepted.Count} accepted");

        // None lost: every accepted job is listed and completes; no refused one was recorded.
        var listed = await fixture.JobIdsAsync();
        Assert.All(accepted, id => Assert.Contains(id, listed));
        Assert.All(refused, id => Assert.DoesNotContain(id, listed));
        var finals = await Task.WhenAll(accepted.Select(fixture.WaitAsync));
        Assert.All(finals, f => Assert.Equal(JobState.Completed, f.State));
        foreach (var id in refused)
        {
            using var missing = await fixture.Http.GetAsync($"v1/jobs/{id}");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        var line = $"{submits} concurrent submits, queue of {QueueOfEightFixture.Capacity}: {accepted.Count} accepted, {refused.Count} refused with 429, " +
            $"{finals.Count(f => f.State == JobState.Completed)} completed";
        output.WriteLine(line);
        await File.AppendAllTextAsync(Artifacts.File("measurements.txt"), line + "\n");
    }
}
