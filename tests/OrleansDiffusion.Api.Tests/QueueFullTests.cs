using System.Net;
using System.Net.Http.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Api.Jobs;

namespace OrleansDiffusion.Api.Tests;

/// <summary>Admission control: with the cluster's queue full a submit is refused with 429 and leaves no trace.</summary>
[Collection(QueueOfOneCollection.Name)]
public class QueueFullTests(QueueOfOneFixture fixture)
{
    [Fact]
    public async Task A_submit_to_a_full_queue_gets_429_with_Retry_After_records_nothing_and_is_accepted_once_the_queue_has_room()
    {
        // A job far too long to end by itself during the test (256², 999 steps) holds the only place in the queue.
        var longSpec = ApiFixture.SmallSpec(seed: 1, steps: 999);
        (longSpec["width"], longSpec["height"], longSpec["tile"], longSpec["overlap"]) = (256, 256, 128, 32);
        using var running = await fixture.Http.PostAsJsonAsync("v1/jobs", longSpec);
        Assert.Equal(HttpStatusCode.Accepted, running.StatusCode);
        var runningId = (await ApiFixture.JsonAsync(running)).GetProperty("job_id").GetString()!;
        var before = await fixture.JobIdsAsync();

        const string key = "queue-full-retry-1";
        var wouldBe = IdempotencyKeys.JobId(key);
        HttpRequestMessage Submit()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "v1/jobs") { Content = JsonContent.Create(ApiFixture.SmallSpec(seed: 2)) };
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }

        using (var refused = await fixture.Http.SendAsync(Submit()))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var retryAfter = refused.Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.True(retryAfter >= TimeSpan.FromSeconds(1), $"Retry-After {retryAfter}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            var problem = await ApiFixture.JsonAsync(refused);
            Assert.Equal(429, problem.GetProperty("status").GetInt32());
            Assert.Equal("The cluster's job queue is full", problem.GetProperty("title").GetString());
            Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
            Assert.Equal(1, problem.GetProperty("queued").GetInt32());
            Assert.Equal(1, problem.GetProperty("capacity").GetInt32());
            Assert.Equal(retryAfter.Value.TotalSeconds, problem.GetProperty("retry_after_seconds").GetInt32());
            Assert.False(refused.Headers.Contains("Location"));
        }
        // The A1111 endpoint shares the admission control.
        using (var a1111 = await fixture.Http.PostAsJsonAsync("sdapi/v1/txt2img", new { prompt = "wood", width = 64, height = 64, steps = 2, tile = 32, overlap = 16 }))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, a1111.StatusCode);
            Assert.NotNull(a1111.Headers.RetryAfter?.Delta);
        }

        // Nothing was recorded: the job list is unchanged and the job the key names does not exist.
        Assert.Equal(before, await fixture.JobIdsAsync());
        using (var missing = await fixture.Http.GetAsync($"v1/jobs/{wouldBe}")) Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // Cancelling the running job frees its place; the same submit is then accepted.
        using (var cancel = await fixture.Http.DeleteAsync($"v1/jobs/{runningId}")) Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        Assert.Equal(JobState.Cancelled, (await fixture.WaitAsync(runningId)).State);
        using var accepted = await fixture.Http.SendAsync(Submit());
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal(wouldBe, (await ApiFixture.JsonAsync(accepted)).GetProperty("job_id").GetString());
        Assert.Equal(JobState.Completed, (await fixture.WaitAsync(wouldBe)).State);
    }
}
