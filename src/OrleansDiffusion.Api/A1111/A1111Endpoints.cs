using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.Api.A1111;

/// <summary>The subset of the AUTOMATIC1111 web UI's API that clients use to generate: txt2img (blocking until the
/// image is ready), progress, interrupt and the model list. Errors use its FastAPI shape (422 with <c>detail</c>).</summary>
internal static class A1111Endpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Map(RouteGroupBuilder sdapi)
    {
        sdapi.MapPost("/txt2img", Txt2ImgAsync).WithName("A1111Txt2Img").WithSummary("AUTOMATIC1111-compatible text to image (waits for the image)");
        sdapi.MapGet("/progress", ProgressAsync).WithName("A1111Progress").WithSummary("AUTOMATIC1111-compatible progress of the current txt2img job");
        sdapi.MapPost("/interrupt", InterruptAsync).WithName("A1111Interrupt").WithSummary("Cancel the current txt2img job");
        sdapi.MapGet("/sd-models", ModelsAsync).WithName("A1111Models").WithSummary("The models that open, as A1111 lists checkpoints (a title is what override_settings.sd_model_checkpoint names)");
    }

    /// <summary>A1111's checkpoint list: a diffusers folder has no single file, so its store name is title, name and filename;
    /// folders that do not open are left out (GET /v1/models says why).</summary>
    private static async Task<IResult> ModelsAsync(HttpContext context, DiffusionClient client)
    {
        var models = await client.ListModelsAsync(context.RequestAborted);
        return Results.Json(models.Where(m => m.Error is null).Select(m => new A1111Model(m.Name, m.Name, null, null, m.Name, null)).ToList(), Json);
    }

    private static async Task<IResult> Txt2ImgAsync(HttpContext context, DiffusionClient client, A1111Tracker tracker)
    {
        JsonElement body;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            body = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return Unprocessable([new ValidationError("body", $"is not JSON: {e.Message}")]);
        }
        var request = Txt2ImgRequest.Read(body);
        if (request.Errors.Count > 0) return Unprocessable(request.Errors);
        string jobId;
        try
        {
            jobId = await client.SubmitAsync(request.Spec, cancellationToken: context.RequestAborted);
        }
        catch (InvalidJobException invalid)
        {
            return Unprocessable(invalid.Errors.Select(e => e with { Field = Txt2ImgRequest.A1111Name(e.Field) }).ToList());
        }
        catch (ClusterBusyException busy)
        {
            return Jobs.ApiProblems.Busy(context, busy);
        }
        tracker.Started(jobId);
        JobStatus? last = null;
        try
        {
            await foreach (var status in client.WatchAsync(jobId, context.RequestAborted)) last = status;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            await client.CancelAsync(jobId, CancellationToken.None);
            throw;
        }
        var images = new List<string>();
        if (last!.State == JobState.Completed)
        {
            await using var png = await client.OpenResultAsync(jobId, context.RequestAborted);
            using var bytes = new MemoryStream();
            await png.CopyToAsync(bytes, context.RequestAborted);
            images.Add(Convert.ToBase64String(bytes.GetBuffer(), 0, (int)bytes.Length));
        }
        else if (last.State == JobState.Failed)
        {
            return Results.Json(new { error = "GenerationError", detail = last.Error, errors = last.Error }, Json, statusCode: StatusCodes.Status500InternalServerError);
        }
        var info = request.Info(last);
        return Results.Json(new Txt2ImgResponse(images, request.Parameters, JsonSerializer.Serialize(info, Json)), Json);
    }

    private static async Task<IResult> ProgressAsync(HttpContext context, DiffusionClient client, A1111Tracker tracker)
    {
        var skipImage = context.Request.Query["skip_current_image"] == "true";
        var status = tracker.Current is { } id ? await client.GetStatusAsync(id, context.RequestAborted) : null;
        if (status is null) return Results.Json(new ProgressResponse(0, 0, new ProgressState(false, false, "", 0, null, 0, 0, 0), null, null, null), Json);
        var running = !status.IsFinished;
        var progress = running ? (double)status.Step / Math.Max(1, status.Spec.Steps) : 0;
        var eta = progress > 0 ? status.ElapsedSeconds / progress * (1 - progress) : 0;
        var state = new ProgressState(false, status.State == JobState.Cancelled, running ? status.JobId : "", running ? 1 : 0,
            status.CreatedAt.UtcDateTime.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture), 0, status.Step, status.Spec.Steps);
        var image = skipImage || status.Preview is null ? null : Convert.ToBase64String(status.Preview);
        return Results.Json(new ProgressResponse(Math.Round(progress, 4), Math.Round(eta, 2), state, image, null, running ? status.JobId : null), Json);
    }

    private static async Task<IResult> InterruptAsync(HttpContext context, DiffusionClient client, A1111Tracker tracker)
    {
        if (tracker.Current is { } id)
        {
            try
            {
                await client.CancelAsync(id, context.RequestAborted);
            }
            catch (JobNotFoundException)
            {
                // Nothing to interrupt.
            }
        }
        return Results.Json(new { }, Json);
    }

    private static IResult Unprocessable(IReadOnlyList<ValidationError> errors) => Results.Json(
        new { detail = errors.Select(e => new { loc = new[] { "body", e.Field }, msg = e.Message, type = "value_error" }).ToArray() },
        Json, statusCode: StatusCodes.Status422UnprocessableEntity);
}

/// <summary>The job that the latest txt2img call started: what progress and interrupt refer to.</summary>
internal sealed class A1111Tracker
{
    private string? _current;

    public string? Current => Volatile.Read(ref _current);

    public void Started(string jobId) => Volatile.Write(ref _current, jobId);
}

internal sealed record Txt2ImgResponse(IReadOnlyList<string> Images, IReadOnlyDictionary<string, object?> Parameters, string Info);

internal sealed record ProgressState(bool Skipped, bool Interrupted, string Job, int JobCount, string? JobTimestamp, int JobNo, int SamplingStep, int SamplingSteps);

internal sealed record ProgressResponse(double Progress, double EtaRelative, ProgressState State, string? CurrentImage, string? Textinfo, string? CurrentTask);

internal sealed record A1111Model(string Title, string ModelName, string? Hash, string? Sha256, string Filename, string? Config);
