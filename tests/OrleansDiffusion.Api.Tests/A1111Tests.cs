using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StbImageSharp;

namespace OrleansDiffusion.Api.Tests;

[Collection(ApiCollection.Name)]
public class A1111Tests(ApiFixture fixture)
{
    [Fact]
    public async Task Txt2img_request_and_response_match_the_a1111_api_field_by_field()
    {
        var body = new Dictionary<string, object?>
        {
            ["prompt"] = "marble", ["negative_prompt"] = "blurry", ["width"] = 64, ["height"] = 48, ["steps"] = 2, ["seed"] = 1234,
            ["cfg_scale"] = 6.5, ["sampler_name"] = "Euler", ["scheduler"] = "Karras", ["batch_size"] = 1, ["n_iter"] = 1,
            ["tile"] = 32, ["overlap"] = 16, ["sync"] = "gaussian",
            // Fields A1111 clients send and this server ignores.
            ["restore_faces"] = false, ["enable_hr"] = false, ["styles"] = Array.Empty<string>(), ["send_images"] = true,
        };
        using var response = await fixture.Http.PostAsJsonAsync("sdapi/v1/txt2img", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await ApiFixture.JsonAsync(response);

        var images = json.GetProperty("images").EnumerateArray().ToList();
        Assert.Single(images);
        var png = images[0].GetBytesFromBase64();
        var image = ImageResult.FromMemory(png, ColorComponents.RedGreenBlue);
        Assert.Equal((64, 48), (image.Width, image.Height));

        var parameters = json.GetProperty("parameters");
        Assert.Equal("marble", parameters.GetProperty("prompt").GetString());
        Assert.Equal("blurry", parameters.GetProperty("negative_prompt").GetString());
        Assert.Equal(64, parameters.GetProperty("width").GetInt32());
        Assert.Equal(48, parameters.GetProperty("height").GetInt32());
        Assert.Equal(2, parameters.GetProperty("steps").GetInt32());
        Assert.Equal(1234, parameters.GetProperty("seed").GetInt64());
        Assert.Equal(6.5, parameters.GetProperty("cfg_scale").GetDouble());
        Assert.Equal("Euler", parameters.GetProperty("sampler_name").GetString());
        Assert.Equal(32, parameters.GetProperty("tile").GetInt32());
        Assert.Equal("gaussian", parameters.GetProperty("sync").GetString());

        Assert.Equal(JsonValueKind.String, json.GetProperty("info").ValueKind);
        var info = JsonDocument.Parse(json.GetProperty("info").GetString()!).RootElement;
        Assert.Equal("marble", info.GetProperty("prompt").GetString());
        Assert.Equal("marble", info.GetProperty("all_prompts")[0].GetString());
        Assert.Equal("blurry", info.GetProperty("negative_prompt").GetString());
        Assert.Equal(1234, info.GetProperty("seed").GetInt64());
        Assert.Equal(1234, info.GetProperty("all_seeds")[0].GetInt64());
        Assert.Equal(64, info.GetProperty("width").GetInt32());
        Assert.Equal(48, info.GetProperty("height").GetInt32());
        Assert.Equal("Euler", info.GetProperty("sampler_name").GetString());
        Assert.Equal(6.5, info.GetProperty("cfg_scale").GetDouble());
        Assert.Equal(2, info.GetProperty("steps").GetInt32());
        Assert.Equal(1, info.GetProperty("batch_size").GetInt32());
        Assert.Contains("Seed: 1234", info.GetProperty("infotexts")[0].GetString(), StringComparison.Ordinal);
        var jobId = info.GetProperty("extra_generation_params").GetProperty("job_id").GetString()!;

        // The job behind it is an ordinary job: Euler with Karras sigmas, gaussian sync, the same PNG.
        var status = (await fixture.Sdk.GetStatusAsync(jobId))!;
        Assert.Equal(Abstractions.SchedulerKind.Euler, status.Spec.Scheduler);
        Assert.True(status.Spec.Karras);
        Assert.Equal(6.5, status.Spec.Cfg);
        await using var result = await fixture.Sdk.OpenResultAsync(jobId);
        using var bytes = new MemoryStream();
        await result.CopyToAsync(bytes);
        Assert.Equal(bytes.ToArray(), png);

        var progress = await ApiFixture.JsonAsync(await fixture.Http.GetAsync("sdapi/v1/progress"));
        Assert.Equal(0, progress.GetProperty("progress").GetDouble());
        Assert.Equal(0, progress.GetProperty("eta_relative").GetDouble());
        var state = progress.GetProperty("state");
        foreach (var field in new[] { "skipped", "interrupted", "job", "job_count", "job_timestamp", "job_no", "sampling_step", "sampling_steps" })
            Assert.True(state.TryGetProperty(field, out _), $"progress.state lacks {field}");
        Assert.Equal(2, state.GetProperty("sampling_steps").GetInt32());
        Assert.True(progress.TryGetProperty("current_image", out _));

        using var interrupt = await fixture.Http.PostAsync("sdapi/v1/interrupt", null);
        Assert.Equal(HttpStatusCode.OK, interrupt.StatusCode);
        var models = await ApiFixture.JsonAsync(await fixture.Http.GetAsync("sdapi/v1/sd-models"));
        Assert.Equal(JsonValueKind.Array, models.ValueKind);
    }
}
