using System.Net;
using System.Text.Json;
using OrleansDiffusion.Client.Http;

namespace OrleansDiffusion.Api.Tests;

/// <summary>GET /v1/models and A1111's sd-models list the silo's model store as the SDK does.</summary>
[Collection(ApiCollection.Name)]
public class ModelsTests(ApiFixture fixture)
{
    [Fact]
    public async Task V1_models_lists_the_store_field_by_field_as_the_sdk_does()
    {
        using var anonymous = await fixture.Anonymous.GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        var sdk = await fixture.Sdk.ListModelsAsync();
        using var response = await fixture.Http.GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var models = (await ApiFixture.JsonAsync(response)).GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(sdk.Select(m => m.Name), models.Select(m => m.GetProperty("name").GetString()));

        var tiny = models.Single(m => m.GetProperty("name").GetString() == ApiFixture.TinyModelName);
        var expected = sdk.Single(m => m.Name == ApiFixture.TinyModelName);
        Assert.Equal(["name", "family", "parameters", "dtypes", "silos", "error"], tiny.EnumerateObject().Select(p => p.Name));
        Assert.Equal(expected.Family, tiny.GetProperty("family").GetString());
        Assert.False(string.IsNullOrEmpty(expected.Family));
        Assert.Equal(expected.Parameters, tiny.GetProperty("parameters").GetInt64());
        Assert.True(expected.Parameters > 0);
        Assert.Equal(expected.DTypes, tiny.GetProperty("dtypes").EnumerateArray().Select(d => d.GetString()!));
        Assert.NotEmpty(expected.DTypes);
        Assert.Equal(expected.Silos, tiny.GetProperty("silos").EnumerateArray().Select(s => s.GetString()!));
        Assert.Single(expected.Silos);
        Assert.Equal(JsonValueKind.Null, tiny.GetProperty("error").ValueKind);

        // A folder that does not open is listed with the reason.
        var broken = models.Single(m => m.GetProperty("name").GetString() == ApiFixture.BrokenModelName);
        Assert.Equal(sdk.Single(m => m.Name == ApiFixture.BrokenModelName).Error, broken.GetProperty("error").GetString());
        Assert.False(string.IsNullOrWhiteSpace(broken.GetProperty("error").GetString()));

        // The HTTP client reads the same list back.
        var http = await new DiffusionHttpClient(fixture.Http, ApiFixture.Key).ListModelsAsync();
        Assert.Equal(sdk.Count, http.Count);
        foreach (var (a, b) in sdk.Zip(http))
        {
            Assert.Equal((a.Name, a.Family, a.Parameters, a.Error), (b.Name, b.Family, b.Parameters, b.Error));
            Assert.Equal(a.DTypes, b.DTypes);
            Assert.Equal(a.Silos, b.Silos);
        }
    }

    [Fact]
    public async Task Sd_models_lists_the_models_that_open_in_the_a1111_shape()
    {
        using var response = await fixture.Http.GetAsync("sdapi/v1/sd-models");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var model = Assert.Single((await ApiFixture.JsonAsync(response)).EnumerateArray());
        Assert.Equal(["title", "model_name", "hash", "sha256", "filename", "config"], model.EnumerateObject().Select(p => p.Name));
        Assert.Equal(ApiFixture.TinyModelName, model.GetProperty("title").GetString());
        Assert.Equal(ApiFixture.TinyModelName, model.GetProperty("model_name").GetString());
        Assert.Equal(ApiFixture.TinyModelName, model.GetProperty("filename").GetString());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("hash").ValueKind);
        Assert.Equal(JsonValueKind.Null, model.GetProperty("config").ValueKind);
    }
}
