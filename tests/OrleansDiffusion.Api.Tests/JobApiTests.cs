using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client.Http;
using Xunit.Abstractions;

namespace OrleansDiffusion.Api.Tests;

[Collection(ApiCollection.Name)]
public class JobApiTests(ApiFixture fixture, ITestOutputHelper output)
{
    private static readonly string[] OdiffJobsJsonFields =
    [
        "job_id", "state", "step", "steps", "width", "height", "tiles", "silos", "sync", "seed", "prompt", "created_at", "seconds",
        "denoise_seconds", "sync_seconds", "bytes_per_step", "forward_calls_per_step", "bytes_per_step_bound", "decode_seconds", "band_bytes_per_step", "step_calls_per_step", "seam_score", "output", "output_bytes", "error",
    ];

    private async Task<JsonElement> SubmitAsync(object spec)
    {
        using var response = await fixture.Http.PostAsJsonAsync("v1/jobs", spec);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var status = await ApiFixture.JsonAsync(response);
        Assert.Equal($"/v1/jobs/{status.GetProperty("job_id").GetString()}", response.Headers.Location?.OriginalString);
        return status;
    }

    [Fact]
    public async Task Submit_answers_202_with_the_status_named_as_odiff_jobs_json()
    {
        var status = await SubmitAsync(ApiFixture.SmallSpec(seed: 101));
        foreach (var field in OdiffJobsJsonFields) Assert.True(status.TryGetProperty(field, out _), $"missing {field}");
        Assert.Equal(64, status.GetProperty("width").GetInt32());
        Assert.Equal("average", status.GetProperty("sync").GetString());
        Assert.Equal(9, status.GetProperty("tiles").GetInt32());
        Assert.Equal(32, status.GetProperty("spec").GetProperty("tile").GetInt32());
        var id = status.GetProperty("job_id").GetString()!;
        Assert.Equal(JobState.Completed, (await fixture.WaitAsync(id)).State);
        var got = await ApiFixture.JsonAsync(await fixture.Http.GetAsync($"v1/jobs/{id}"));
        Assert.Equal("completed", got.GetProperty("state").GetString());
        Assert.Equal(2, got.GetProperty("step").GetInt32());
        var list = await ApiFixture.JsonAsync(await fixture.Http.GetAsync("v1/jobs"));
        Assert.Contains(list.GetProperty("jobs").EnumerateArray(), j => j.GetProperty("job_id").GetString() == id);
    }

    [Fact]
    public async Task A_spec_without_tile_or_overlap_gets_a_tile_that_fits_the_canvas()
    {
        var status = await SubmitAsync(new Dictionary<string, object> { ["prompt"] = "clouds", ["width"] = 64, ["height"] = 64, ["steps"] = 1, ["seed"] = 109 });
        Assert.Equal(64, status.GetProperty("spec").GetProperty("tile").GetInt32());
        Assert.Equal(32, status.GetProperty("spec").GetProperty("overlap").GetInt32());
        Assert.Equal(JobState.Completed, (await fixture.WaitAsync(status.GetProperty("job_id").GetString()!)).State);
    }

    [Fact]
    public async Task Events_come_in_step_order_with_preview_and_tiles_and_end_with_the_final_state()
    {
        var clock = Stopwatch.StartNew();
        var id = (await SubmitAsync(ApiFixture.SmallSpec(seed: 102, steps: 4))).GetProperty("job_id").GetString()!;
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/jobs/{id}/events");
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<(ServerSentEvent Event, JsonElement Data)>();
        double? firstEventMs = null;
        await foreach (var message in ServerSentEvents.ReadAsync(await response.Content.ReadAsStreamAsync()))
        {
            firstEventMs ??= clock.Elapsed.TotalMilliseconds;
            events.Add((message, JsonDocument.Parse(message.Data).RootElement.Clone()));
        }
        output.WriteLine($"first SSE event {firstEventMs:F0} ms after submit; {events.Count} events");
        await File.AppendAllTextAsync(Artifacts.File("measurements.txt"), $"first SSE event after submit: {firstEventMs:F0} ms\n");

        Assert.True(events.Count >= 2);
        Assert.All(events[..^1], e => Assert.Equal("progress", e.Event.Event));
        var (last, final) = events[^1];
        Assert.Equal("end", last.Event);
        Assert.Equal("completed", final.GetProperty("state").GetString());
        Assert.Equal(4, final.GetProperty("step").GetInt32());
        var steps = events.Select(e => e.Data.GetProperty("step").GetInt32()).ToList();
        Assert.Equal(steps.Order(), steps);
        var stepped = events.Where(e => e.Data.GetProperty("step").GetInt32() > 0).ToList();
        Assert.NotEmpty(stepped);
        Assert.All(stepped, e =>
        {
            var preview = e.Data.GetProperty("preview").GetBytesFromBase64();
            Assert.Equal(0x89, preview[0]);
            Assert.True(e.Data.GetProperty("last_step_denoise_seconds").GetDouble() > 0);
        });
        var tiles = final.GetProperty("tile_details").EnumerateArray().ToList();
        Assert.Equal(9, tiles.Count);
        Assert.All(tiles, t => Assert.Equal("silo0", t.GetProperty("silo").GetString()));
        Assert.All(tiles, t => Assert.Equal("done", t.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task Delete_cancels_a_running_job()
    {
        var id = (await SubmitAsync(ApiFixture.SmallSpec(seed: 103, steps: 300))).GetProperty("job_id").GetString()!;
        await foreach (var status in fixture.Sdk.WatchAsync(id))
            if (status.Step > 0) break;
        using var response = await fixture.Http.DeleteAsync($"v1/jobs/{id}");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var final = await fixture.WaitAsync(id);
        Assert.True(final.State == JobState.Cancelled, $"{final.State}: {final.Error}");
        Assert.True(final.Step < 300);
        using var image = await fixture.Http.GetAsync($"v1/jobs/{id}/image");
        Assert.Equal(HttpStatusCode.Conflict, image.StatusCode);
    }

    [Fact]
    public async Task Image_bytes_equal_the_sdk_result_and_range_requests_return_the_slices()
    {
        var id = (await SubmitAsync(ApiFixture.SmallSpec(seed: 104))).GetProperty("job_id").GetString()!;
        await fixture.WaitAsync(id);
        await using var sdkStream = await fixture.Sdk.OpenResultAsync(id);
        using var sdkBytes = new MemoryStream();
        await sdkStream.CopyToAsync(sdkBytes);
        var expected = sdkBytes.ToArray();

        using var whole = await fixture.Http.GetAsync($"v1/jobs/{id}/image");
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal("image/png", whole.Content.Headers.ContentType?.MediaType);
        Assert.Equal("bytes", string.Join(",", whole.Headers.AcceptRanges));
        Assert.Equal(expected, await whole.Content.ReadAsByteArrayAsync());

        foreach (var (from, to) in new (long? From, long? To)[] { (10, 99), (0, 0), (null, 50), (expected.Length - 7, null) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/jobs/{id}/image");
            request.Headers.Range = new RangeHeaderValue(from, to);
            using var part = await fixture.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
            var start = from ?? expected.Length - to!.Value;
            var end = from is null || to is null ? expected.Length - 1 : to.Value;
            Assert.Equal(expected[(int)start..(int)(end + 1)], await part.Content.ReadAsByteArrayAsync());
            Assert.Equal(start, part.Content.Headers.ContentRange!.From);
            Assert.Equal(expected.Length, part.Content.Headers.ContentRange.Length);
        }
        using var outside = new HttpRequestMessage(HttpMethod.Get, $"v1/jobs/{id}/image");
        outside.Headers.Range = new RangeHeaderValue(expected.Length + 10, expected.Length + 20);
        using var refused = await fixture.Http.SendAsync(outside);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, refused.StatusCode);
    }

    [Fact]
    public async Task The_same_idempotency_key_and_spec_give_the_same_job_and_another_spec_is_refused()
    {
        var key = $"order-{Guid.NewGuid():N}";
        async Task<HttpResponseMessage> PostAsync(object spec)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/jobs") { Content = JsonContent.Create(spec) };
            request.Headers.Add("Idempotency-Key", key);
            return await fixture.Http.SendAsync(request);
        }
        using var first = await PostAsync(ApiFixture.SmallSpec(seed: 105));
        using var again = await PostAsync(ApiFixture.SmallSpec(seed: 105));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        var id = (await ApiFixture.JsonAsync(first)).GetProperty("job_id").GetString()!;
        Assert.Equal(id, (await ApiFixture.JsonAsync(again)).GetProperty("job_id").GetString());
        Assert.StartsWith("key-", id);
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        var before = await fixture.JobIdsAsync();
        using var other = await PostAsync(ApiFixture.SmallSpec(seed: 106));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        Assert.Equal("application/problem+json", other.Content.Headers.ContentType?.MediaType);
        Assert.True((await ApiFixture.JsonAsync(other)).GetProperty("errors").TryGetProperty("idempotency_key", out _));
        Assert.Equal(before, await fixture.JobIdsAsync());
        Assert.Equal(JobState.Completed, (await fixture.WaitAsync(id)).State);
    }

    [Fact]
    public async Task The_openapi_document_and_the_page_are_served()
    {
        using var openApi = await fixture.Anonymous.GetAsync("openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, openApi.StatusCode);
        var paths = (await ApiFixture.JsonAsync(openApi)).GetProperty("paths");
        foreach (var path in new[] { "/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/events", "/v1/jobs/{id}/image", "/v1/jobs/{id}/dzi", "/v1/models", "/sdapi/v1/txt2img" })
            Assert.True(paths.TryGetProperty(path, out _), $"the OpenAPI document lacks {path}");
        using var page = await fixture.Anonymous.GetAsync("ui/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        using var viewer = await fixture.Anonymous.GetAsync("ui/lib/openseadragon.min.js");
        Assert.Equal(HttpStatusCode.OK, viewer.StatusCode);
        Assert.Contains("OpenSeadragon", await viewer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

internal static class Artifacts
{
    /// <summary>A file under TestResults/api-artifacts next to the test assembly (kept after the run).</summary>
    public static string File(string name)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "api-artifacts");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, name);
    }
}
