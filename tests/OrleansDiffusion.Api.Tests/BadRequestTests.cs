using System.Net;
using System.Text;

namespace OrleansDiffusion.Api.Tests;

/// <summary>Requests the API must refuse, each with no side effect on the cluster's job list.</summary>
[Collection(ApiCollection.Name)]
public class BadRequestTests(ApiFixture fixture)
{
    private const string Small = "\"width\":64,\"height\":64,\"tile\":32,\"overlap\":16,\"steps\":2";

    public static TheoryData<string, string, string, string?, int, string?> Cases() => new()
    {
        // name, method, path, body, status, field (or null)
        { "no key: submit", "POST", "v1/jobs", "{" + Small + "}", 401, null },
        { "no key: list", "GET", "v1/jobs", null, 401, null },
        { "no key: status", "GET", "v1/jobs/some-job", null, 401, null },
        { "no key: cancel", "DELETE", "v1/jobs/some-job", null, 401, null },
        { "no key: events", "GET", "v1/jobs/some-job/events", null, 401, null },
        { "no key: image", "GET", "v1/jobs/some-job/image", null, 401, null },
        { "no key: dzi", "GET", "v1/jobs/some-job/dzi", null, 401, null },
        { "no key: txt2img", "POST", "sdapi/v1/txt2img", "{\"prompt\":\"wood\"}", 401, null },
        { "wrong key", "POST", "v1/jobs|Bearer wrong-key", "{" + Small + "}", 401, null },
        { "basic scheme", "GET", "v1/jobs|Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("u:" + ApiFixture.Key)), null, 401, null },
        { "not JSON", "POST", "v1/jobs", "{width:", 400, "body" },
        { "array body", "POST", "v1/jobs", "[1,2]", 400, "body" },
        { "width not a number", "POST", "v1/jobs", "{\"width\":\"abc\"}", 400, "width" },
        { "width not a multiple of 8", "POST", "v1/jobs", "{\"width\":65,\"height\":64,\"tile\":32,\"overlap\":16}", 400, "width" },
        { "height zero", "POST", "v1/jobs", "{\"width\":64,\"height\":0,\"tile\":32,\"overlap\":16}", 400, "height" },
        { "steps zero", "POST", "v1/jobs", "{" + Small.Replace("\"steps\":2", "\"steps\":0") + "}", 400, "steps" },
        { "steps too many", "POST", "v1/jobs", "{" + Small.Replace("\"steps\":2", "\"steps\":5000") + "}", 400, "steps" },
        { "negative seed", "POST", "v1/jobs", "{" + Small + ",\"seed\":-4}", 400, "seed" },
        { "tile too small", "POST", "v1/jobs", "{\"width\":64,\"height\":64,\"tile\":20,\"overlap\":0}", 400, "tile" },
        { "overlap not below tile", "POST", "v1/jobs", "{\"width\":64,\"height\":64,\"tile\":32,\"overlap\":32}", 400, "overlap" },
        { "unknown sync", "POST", "v1/jobs", "{" + Small + ",\"sync\":\"blend\"}", 400, "sync" },
        { "sync as number", "POST", "v1/jobs", "{" + Small + ",\"sync\":1}", 400, "sync" },
        { "unknown scheduler", "POST", "v1/jobs", "{" + Small + ",\"scheduler\":\"plms\"}", 400, "scheduler" },
        { "eta out of range", "POST", "v1/jobs", "{" + Small + ",\"eta\":2}", 400, "eta" },
        { "karras with ddim", "POST", "v1/jobs", "{" + Small + ",\"karras\":true}", 400, "karras" },
        { "cfg too large", "POST", "v1/jobs", "{" + Small + ",\"cfg\":100}", 400, "cfg" },
        { "unknown field", "POST", "v1/jobs", "{" + Small + ",\"colour\":\"red\"}", 400, "colour" },
        { "exemplar not base64", "POST", "v1/jobs", "{" + Small + ",\"exemplar_png\":\"***\"}", 400, "exemplar_png" },
        { "exemplar not a PNG", "POST", "v1/jobs", "{" + Small + ",\"exemplar_png\":\"aGVsbG8=\"}", 400, "exemplar_png" },
        { "model is a path", "POST", "v1/jobs", "{" + Small + ",\"model\":\"../etc\"}", 400, "model" },
        { "halo with overlap", "POST", "v1/jobs", "{" + Small + ",\"sync\":\"halo\"}", 400, "overlap" },
        { "idempotency key with a space", "POST", "v1/jobs|key:has space", "{" + Small + "}", 400, "idempotency_key" },
        { "list max zero", "GET", "v1/jobs?max=0", null, 400, "max" },
        { "invalid job id", "GET", "v1/jobs/a%20b", null, 400, "job_id" },
        { "unknown job: status", "GET", "v1/jobs/no-such-job", null, 404, null },
        { "unknown job: cancel", "DELETE", "v1/jobs/no-such-job", null, 404, null },
        { "unknown job: events", "GET", "v1/jobs/no-such-job/events", null, 404, null },
        { "unknown job: image", "GET", "v1/jobs/no-such-job/image", null, 404, null },
        { "unknown job: dzi", "GET", "v1/jobs/no-such-job/dzi", null, 404, null },
        { "bad tile name", "GET", "v1/jobs/no-such-job/dzi_files/3/x.png", null, 400, "tile" },
        { "a1111 unknown sampler", "POST", "sdapi/v1/txt2img", "{\"prompt\":\"wood\",\"sampler_name\":\"PLMS\"}", 422, "sampler_name" },
        { "a1111 batch of two", "POST", "sdapi/v1/txt2img", "{\"prompt\":\"wood\",\"batch_size\":2}", 422, "batch_size" },
        { "a1111 width not a multiple of 8", "POST", "sdapi/v1/txt2img", "{\"prompt\":\"wood\",\"width\":500}", 422, "width" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Is_refused_without_side_effect(string name, string method, string path, string? body, int status, string? field)
    {
        var before = await fixture.JobIdsAsync();
        var parts = path.Split('|');
        using var request = new HttpRequestMessage(new HttpMethod(method), parts[0]);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        var client = status == 401 && parts.Length == 1 ? fixture.Anonymous : fixture.Http;
        if (parts.Length > 1 && parts[1].StartsWith("key:", StringComparison.Ordinal)) request.Headers.Add("Idempotency-Key", parts[1][4..]);
        else if (parts.Length > 1) request.Headers.TryAddWithoutValidation("Authorization", parts[1]);
        using var response = await client.SendAsync(request);

        Assert.True(status == (int)response.StatusCode, $"{name}: expected {status}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var json = await ApiFixture.JsonAsync(response);
        if (status == 401) Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        if (status is 400 or 401 or 404)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(status, json.GetProperty("status").GetInt32());
        }
        if (field is not null && status == 400) Assert.True(json.GetProperty("errors").TryGetProperty(field, out _), $"{name}: no error for {field} in {json}");
        if (field is not null && status == 422)
            Assert.Contains(json.GetProperty("detail").EnumerateArray(), d => d.GetProperty("loc")[1].GetString() == field);
        Assert.Equal(before, await fixture.JobIdsAsync());
    }
}
