using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Client.Http;

/// <summary>
/// The OrleansDiffusion SDK over HTTP, for callers that cannot join the Orleans network: the surface of
/// <see cref="DiffusionClient"/> (submit, watch, status, cancel, result stream, list, run) against the HTTP API of a
/// coordinator silo. Errors come back as the SDK's exceptions: <see cref="InvalidJobException"/> (400, each field
/// named), <see cref="JobNotFoundException"/> (404), <see cref="ClusterBusyException"/> (429, with its retry delay),
/// <see cref="UnauthorizedAccessException"/> (401).
/// </summary>
public sealed class DiffusionHttpClient
{
    private readonly HttpClient _http;
    private readonly AuthenticationHeaderValue? _authorization;

    /// <param name="http">A client whose <see cref="HttpClient.BaseAddress"/> is the API's root (e.g. <c>http://coordinator:8080/</c>).</param>
    /// <param name="apiKey">The API key sent as <c>Authorization: Bearer</c>; null for an open API.</param>
    public DiffusionHttpClient(HttpClient http, string? apiKey = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
        _authorization = apiKey is null ? null : new AuthenticationHeaderValue("Bearer", apiKey);
    }

    /// <summary>Submits <paramref name="spec"/>; returns the job id. With an <paramref name="idempotencyKey"/> the job
    /// id is derived from the key, so submitting again with the same key and spec returns the same job.</summary>
    public async Task<string> SubmitAsync(JobSpec spec, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var request = Request(HttpMethod.Post, "v1/jobs");
        request.Content = JsonContent.Create(JobSpecJson.From(spec), options: DiffusionJson.Options);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var status = await response.Content.ReadFromJsonAsync<JobStatusJson>(DiffusionJson.Options, cancellationToken);
        return status?.JobId ?? throw new HttpRequestException("the API answered 202 without a job");
    }

    /// <summary>Watches a job through its Server-Sent Events: its current status, each new one, ending with the finished one.</summary>
    public async IAsyncEnumerable<JobStatus> WatchAsync(string jobId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, $"v1/jobs/{Uri.EscapeDataString(jobId)}/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken, jobId);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (var message in ServerSentEvents.ReadAsync(body, cancellationToken))
        {
            var status = JsonSerializer.Deserialize<JobStatusJson>(message.Data, DiffusionJson.Options);
            if (status is not null) yield return status.ToStatus();
            if (message.Event == "end") yield break;
        }
    }

    /// <summary>The job's status, or null when the cluster knows no such job.</summary>
    public async Task<JobStatus?> GetStatusAsync(string jobId, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, $"v1/jobs/{Uri.EscapeDataString(jobId)}");
        using var response = await _http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await ThrowOnErrorAsync(response, jobId, cancellationToken);
        var status = await response.Content.ReadFromJsonAsync<JobStatusJson>(DiffusionJson.Options, cancellationToken);
        return status?.ToStatus();
    }

    /// <summary>Asks the job to stop after its current step.</summary>
    public async Task CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Delete, $"v1/jobs/{Uri.EscapeDataString(jobId)}");
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken, jobId);
    }

    /// <summary>The finished job's PNG as a forward-only stream; dispose it when done.</summary>
    public async Task<Stream> OpenResultAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var request = Request(HttpMethod.Get, $"v1/jobs/{Uri.EscapeDataString(jobId)}/image");
        try
        {
            var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken, jobId);
            return await response.Content.ReadAsStreamAsync(cancellationToken);
        }
        finally
        {
            request.Dispose();
        }
    }

    /// <summary>The cluster's jobs, newest first, at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<JobStatus>> ListJobsAsync(int max = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        using var request = Request(HttpMethod.Get, $"v1/jobs?max={max}");
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var list = await response.Content.ReadFromJsonAsync<JobListJson>(DiffusionJson.Options, cancellationToken);
        return list?.Jobs.Select(j => j.ToStatus()).ToList() ?? [];
    }

    /// <summary>The models in the cluster's model store, as <see cref="DiffusionClient.ListModelsAsync"/> lists them.</summary>
    public async Task<IReadOnlyList<ClusterModel>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, "v1/models");
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var list = await response.Content.ReadFromJsonAsync<ModelListJson>(DiffusionJson.Options, cancellationToken);
        return list?.Models.Select(m => m.ToModel()).ToList() ?? [];
    }

    /// <summary>Submits and watches to the end, reporting each status; cancelling the token cancels the job too.</summary>
    public async Task<JobStatus> RunAsync(JobSpec spec, IProgress<JobStatus>? progress = null, CancellationToken cancellationToken = default)
    {
        var jobId = await SubmitAsync(spec, cancellationToken: cancellationToken);
        try
        {
            JobStatus? last = null;
            await foreach (var status in WatchAsync(jobId, cancellationToken))
            {
                progress?.Report(status);
                last = status;
            }
            return last ?? throw new HttpRequestException($"the event stream of job '{jobId}' ended without a status");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await CancelAsync(jobId, grace.Token);
            }
            catch (Exception)
            {
                // Best effort: the caller is already being cancelled.
            }
            throw;
        }
    }

    private HttpRequestMessage Request(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = _authorization;
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken, string? jobId = null)
    {
        var response = await _http.SendAsync(request, completion, cancellationToken);
        try
        {
            await ThrowOnErrorAsync(response, jobId, cancellationToken);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private static async Task ThrowOnErrorAsync(HttpResponseMessage response, string? jobId, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var problem = await ProblemJson.ReadAsync(response, cancellationToken);
        var detail = problem?.Detail ?? problem?.Title ?? response.ReasonPhrase ?? response.StatusCode.ToString();
        throw response.StatusCode switch
        {
            HttpStatusCode.BadRequest or HttpStatusCode.Conflict => new InvalidJobException(problem?.ValidationErrors() is { Count: > 0 } errors ? errors : [new ValidationError("request", detail)]),
            HttpStatusCode.NotFound => new JobNotFoundException(jobId ?? ""),
            HttpStatusCode.TooManyRequests => new ClusterBusyException(problem?.Queued ?? 0, problem?.Capacity ?? 0,
                response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(5)),
            HttpStatusCode.Unauthorized => new UnauthorizedAccessException($"the API refused the request: {detail}"),
            _ => new HttpRequestException($"{(int)response.StatusCode} {response.ReasonPhrase}: {detail}", null, response.StatusCode),
        };
    }
}

/// <summary>The body of <c>GET /v1/jobs</c>.</summary>
public sealed record JobListJson(IReadOnlyList<JobStatusJson> Jobs);
