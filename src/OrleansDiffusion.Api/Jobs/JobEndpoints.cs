using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Api.DeepZoom;
using OrleansDiffusion.Client;
using OrleansDiffusion.Client.Http;

namespace OrleansDiffusion.Api.Jobs;

/// <summary>The <c>/v1</c> endpoints: jobs, their events, images and Deep Zoom pyramids, and models.</summary>
internal static partial class JobEndpoints
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapPost("/jobs", SubmitAsync).WithName("SubmitJob").WithSummary("Submit a job (202 with its status; Idempotency-Key makes retries safe)")
            .Produces<JobStatusJson>(StatusCodes.Status202Accepted).ProducesValidationProblem().ProducesProblem(StatusCodes.Status429TooManyRequests);
        v1.MapGet("/jobs", ListAsync).WithName("ListJobs").WithSummary("The cluster's jobs, newest first").Produces<JobListJson>();
        v1.MapGet("/jobs/{id}", GetAsync).WithName("GetJob").WithSummary("A job's status").Produces<JobStatusJson>().ProducesProblem(StatusCodes.Status404NotFound);
        v1.MapDelete("/jobs/{id}", CancelAsync).WithName("CancelJob").WithSummary("Ask a job to stop after its current step")
            .Produces<JobStatusJson>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound);
        v1.MapGet("/jobs/{id}/events", EventsAsync).WithName("JobEvents")
            .WithSummary("Server-Sent Events: 'progress' with each new status (step, timings, tiles, preview), then 'end' with the final one")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        v1.MapGet("/jobs/{id}/image", ImageAsync).WithName("JobImage").WithSummary("The finished PNG (range requests supported)")
            .Produces(StatusCodes.Status200OK, contentType: "image/png").ProducesProblem(StatusCodes.Status409Conflict);
        v1.MapGet("/jobs/{id}/dzi", DziAsync).WithName("JobDeepZoom").WithSummary("The Deep Zoom descriptor of the finished image")
            .Produces(StatusCodes.Status200OK, contentType: "application/xml");
        v1.MapGet("/jobs/{id}/dzi_files/{level:int}/{tile}", DziTileAsync).WithName("JobDeepZoomTile").WithSummary("One Deep Zoom tile (PNG)")
            .Produces(StatusCodes.Status200OK, contentType: "image/png");
        v1.MapGet("/models", ModelsAsync).WithName("ListModels")
            .WithSummary("Models in the silos' model stores: name, family, parameters, dtypes, silos, and why a folder does not open (the built-in exemplar denoiser needs none)")
            .Produces<ModelListJson>();
    }

    private static async Task<IResult> SubmitAsync(HttpContext context, DiffusionClient client, ILoggerFactory loggers)
    {
        JsonElement body;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            body = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return ApiProblems.Invalid("body", $"is not JSON: {e.Message}");
        }
        var (spec, errors) = JobSpecReader.Read(body);
        string? jobId = null;
        var key = context.Request.Headers["Idempotency-Key"].ToString();
        if (context.Request.Headers.ContainsKey("Idempotency-Key"))
        {
            if (IdempotencyKeys.Check(key) is { } problem) errors.Add(new("idempotency_key", problem));
            else jobId = IdempotencyKeys.JobId(key);
        }
        if (errors.Count > 0) return ApiProblems.Invalid(errors, "The job spec is invalid");

        var logger = loggers.CreateLogger(typeof(JobEndpoints));
        if (jobId is not null && await client.GetStatusAsync(jobId, context.RequestAborted) is { } existing)
        {
            if (existing.Spec != spec) return ApiProblems.KeyReused(key, jobId);
            context.Response.Headers["Idempotent-Replayed"] = "true";
            return Accepted(context, existing);
        }
        try
        {
            jobId = await client.SubmitAsync(spec, jobId, context.RequestAborted);
        }
        catch (ClusterBusyException busy)
        {
            Log.Busy(logger, busy.Message);
            return ApiProblems.Busy(context, busy);
        }
        catch (InvalidJobException invalid) when (jobId is not null && invalid.Errors.All(e => e.Field == "job"))
        {
            // Two requests with one key and different specs raced: the coordinator kept the first.
            return ApiProblems.KeyReused(key, jobId);
        }
        catch (InvalidJobException invalid)
        {
            return ApiProblems.Invalid(invalid.Errors.Select(e => e with { Field = JobSpecReader.WireName(e.Field) }), "The job spec is invalid");
        }
        Log.Submitted(logger, jobId, spec.Width, spec.Height, spec.Steps);
        var status = await client.GetStatusAsync(jobId, context.RequestAborted);
        return status is null ? ApiProblems.NotFound(jobId) : Accepted(context, status);
    }

    private static IResult Accepted(HttpContext context, JobStatus status)
    {
        context.Response.Headers.Location = $"{context.Request.PathBase}/v1/jobs/{status.JobId}";
        return Results.Json(JobStatusJson.From(status), DiffusionJson.Options, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ModelsAsync(HttpContext context, DiffusionClient client)
    {
        var models = await client.ListModelsAsync(context.RequestAborted);
        return Results.Json(new ModelListJson(models.Select(ModelJson.From).ToList()), DiffusionJson.Options);
    }

    private static async Task<IResult> ListAsync(HttpContext context, DiffusionClient client)
    {
        var max = 100;
        if (context.Request.Query.TryGetValue("max", out var text) && (!int.TryParse(text, out max) || max is < 1 or > 10000))
            return ApiProblems.Invalid("max", $"must be an integer between 1 and 10000, got '{text}'");
        var jobs = await client.ListJobsAsync(max, context.RequestAborted);
        return Results.Json(new JobListJson(jobs.Select(j => JobStatusJson.From(j)).ToList()), DiffusionJson.Options);
    }

    private static async Task<IResult> GetAsync(string id, HttpContext context, DiffusionClient client)
    {
        if (JobIds.Check(id) is { } problem) return ApiProblems.Invalid("job_id", problem);
        var status = await client.GetStatusAsync(id, context.RequestAborted);
        return status is null ? ApiProblems.NotFound(id) : Results.Json(JobStatusJson.From(status), DiffusionJson.Options);
    }

    private static async Task<IResult> CancelAsync(string id, HttpContext context, DiffusionClient client)
    {
        if (JobIds.Check(id) is { } problem) return ApiProblems.Invalid("job_id", problem);
        try
        {
            await client.CancelAsync(id, context.RequestAborted);
        }
        catch (JobNotFoundException)
        {
            return ApiProblems.NotFound(id);
        }
        var status = await client.GetStatusAsync(id, context.RequestAborted);
        return status is null ? ApiProblems.NotFound(id) : Results.Json(JobStatusJson.From(status), DiffusionJson.Options, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> EventsAsync(string id, HttpContext context, DiffusionClient client)
    {
        if (JobIds.Check(id) is { } problem) return ApiProblems.Invalid("job_id", problem);
        if (await client.GetStatusAsync(id, context.RequestAborted) is null) return ApiProblems.NotFound(id);
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.Body.FlushAsync(context.RequestAborted);
        try
        {
            await foreach (var status in client.WatchAsync(id, context.RequestAborted))
            {
                var json = JsonSerializer.Serialize(JobStatusJson.From(status, withPreview: true), DiffusionJson.Options);
                var message = $"event: {(status.IsFinished ? "end" : "progress")}\nid: {status.Step}\ndata: {json}\n\n";
                await response.WriteAsync(message, Encoding.UTF8, context.RequestAborted);
                await response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The watcher went away.
        }
        return Results.Empty;
    }

    private static async Task<IResult> ImageAsync(string id, HttpContext context, DiffusionClient client, ResultCache results)
    {
        if (await CheckCompletedAsync(id, context, client) is { } refusal) return refusal;
        var path = await results.GetImageAsync(id, context.RequestAborted);
        return Results.File(path, "image/png", fileDownloadName: $"{id}.png", enableRangeProcessing: true);
    }

    private static async Task<IResult> DziAsync(string id, HttpContext context, DiffusionClient client, DeepZoomCache pyramids)
    {
        if (await CheckCompletedAsync(id, context, client) is { } refusal) return refusal;
        var directory = await pyramids.GetAsync(id, context.RequestAborted);
        return Results.File(Path.Combine(directory, DeepZoomPyramid.DescriptorName), "application/xml");
    }

    private static async Task<IResult> DziTileAsync(string id, int level, string tile, HttpContext context, DiffusionClient client, DeepZoomCache pyramids)
    {
        if (TileName().Match(tile) is not { Success: true } match) return ApiProblems.Invalid("tile", "must be <column>_<row>.png");
        if (await CheckCompletedAsync(id, context, client) is { } refusal) return refusal;
        var directory = await pyramids.GetAsync(id, context.RequestAborted);
        var path = Path.Combine(directory, DeepZoomPyramid.TilesFolder, level.ToString(System.Globalization.CultureInfo.InvariantCulture),
            $"{match.Groups[1].Value}_{match.Groups[2].Value}.png");
        return File.Exists(path)
            ? Results.File(path, "image/png")
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such tile", detail: $"level {level} has no tile {tile}");
    }

    /// <summary>Null when the job exists and completed; otherwise the 400, 404 or 409 to answer.</summary>
    private static async Task<IResult?> CheckCompletedAsync(string id, HttpContext context, DiffusionClient client)
    {
        if (JobIds.Check(id) is { } problem) return ApiProblems.Invalid("job_id", problem);
        var status = await client.GetStatusAsync(id, context.RequestAborted);
        if (status is null) return ApiProblems.NotFound(id);
        return status.State switch
        {
            JobState.Completed => null,
            JobState.Failed => ApiProblems.NoResult(id, $"failed: {status.Error}"),
            JobState.Cancelled => ApiProblems.NoResult(id, "was cancelled"),
            _ => ApiProblems.NoResult(id, $"is {JobSpecJson.Name(status.State)} (step {status.Step}/{status.Spec.Steps})"),
        };
    }

    [GeneratedRegex("^([0-9]{1,6})_([0-9]{1,6})\\.png$")]
    private static partial Regex TileName();
}
