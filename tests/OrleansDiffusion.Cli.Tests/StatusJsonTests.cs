using System.Text.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client.Http;

namespace OrleansDiffusion.Cli.Tests;

/// <summary>The exchange's bound per step, the decode time and the step messages per step appear in <c>odiff jobs/submit/watch --json</c>, in the
/// HTTP status and in <c>odiff generate --json</c> under the same names; null (status) while the job has no statistics.</summary>
public class StatusJsonTests
{
    private static readonly JobStatistics Statistics = new(Tiles: 4, Silos: 2, Seconds: 12.5, DenoiseSeconds: 9.25, SyncSeconds: 0.5,
        BytesPerStep: 2_000_000, ForwardCallsPerStep: 2, BytesPerStepBound: 1_600_000, DecodeSeconds: 3.1234, BandBytesPerStep: 1_700_000,
        StepCallsPerStep: 2.33333);

    private static JobStatus Completed() => new()
    {
        JobId = "j1", State = JobState.Completed, Spec = new JobSpec { Width = 512, Height = 512, Steps = 2 }, Step = 2, Tiles = 4,
        Statistics = Statistics,
    };

    [Fact]
    public void Odiff_status_json_carries_the_bound_and_the_decode_time()
    {
        var json = JsonDocument.Parse(JobStatusOutput.ToJson(Completed())).RootElement;
        Assert.Equal(2_000_000, json.GetProperty("bytes_per_step").GetInt64());
        Assert.Equal(1_600_000, json.GetProperty("bytes_per_step_bound").GetInt64());
        Assert.Equal(3.123, json.GetProperty("decode_seconds").GetDouble());
        Assert.Equal(1_700_000, json.GetProperty("band_bytes_per_step").GetInt64());
        Assert.Equal(2.333, json.GetProperty("step_calls_per_step").GetDouble());

        var queued = JsonDocument.Parse(JobStatusOutput.ToJson(Completed() with { State = JobState.Queued, Statistics = null })).RootElement;
        Assert.Equal(JsonValueKind.Null, queued.GetProperty("bytes_per_step_bound").ValueKind);
        Assert.Equal(JsonValueKind.Null, queued.GetProperty("decode_seconds").ValueKind);
    }

    [Fact]
    public void Http_status_json_names_them_as_odiff_does()
    {
        var json = JsonSerializer.SerializeToElement(JobStatusJson.From(Completed()), DiffusionJson.Options);
        var odiff = JsonDocument.Parse(JobStatusOutput.ToJson(Completed())).RootElement;
        foreach (var key in new[] { "bytes_per_step", "bytes_per_step_bound", "decode_seconds", "band_bytes_per_step", "forward_calls_per_step", "step_calls_per_step" })
            Assert.Equal(odiff.GetProperty(key).GetDouble(), json.GetProperty(key).GetDouble());
    }

    [Fact]
    public void Generate_summary_carries_the_bound_and_the_decode_time()
    {
        var request = new GenerateRequest(new JobSpec { Width = 512, Height = 512 }, "out.png", 1, 8, true);
        var json = JsonDocument.Parse(JsonSummary.Format(request, Statistics, 1.5)).RootElement;
        Assert.Equal(1_600_000, json.GetProperty("bytes_per_step_bound").GetInt64());
        Assert.Equal(3.123, json.GetProperty("decode_seconds").GetDouble());
        Assert.Equal(2, json.GetProperty("forward_calls_per_step").GetDouble());
        Assert.Equal(1_700_000, json.GetProperty("band_bytes_per_step").GetInt64());
        Assert.Equal(2.333, json.GetProperty("step_calls_per_step").GetDouble());
    }
}
