using System.Globalization;
using Microsoft.AspNetCore.Http;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Api.Jobs;

/// <summary>The API's RFC 9457 problem details: 400 naming each bad field, 404, 409, 422 and 429 with Retry-After.</summary>
internal static class ApiProblems
{
    public static IResult Invalid(IEnumerable<ValidationError> errors, string title = "The request is invalid") =>
        Results.ValidationProblem(
            errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
            title: title, detail: string.Join("; ", errors.Select(e => $"{e.Field}: {e.Message}")));

    public static IResult Invalid(string field, string message) => Invalid([new ValidationError(field, message)]);

    public static IResult NotFound(string jobId) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such job", detail: $"no job '{jobId}' on this cluster");

    public static IResult NoResult(string jobId, string reason) =>
        Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "The job has no image", detail: $"job '{jobId}' {reason}");

    public static IResult KeyReused(string key, string jobId) => Results.Problem(
        statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused with another spec",
        detail: $"the Idempotency-Key '{key}' already named job '{jobId}' with a different spec; use a new key for a new job",
        extensions: new Dictionary<string, object?> { ["job_id"] = jobId, ["errors"] = new Dictionary<string, string[]> { ["idempotency_key"] = ["was used before with another spec"] } });

    public static IResult Busy(HttpContext context, ClusterBusyException busy)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(busy.RetryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "The cluster's job queue is full", detail: busy.Message,
            extensions: new Dictionary<string, object?> { ["queued"] = busy.Queued, ["capacity"] = busy.Capacity, ["retry_after_seconds"] = seconds });
    }
}
