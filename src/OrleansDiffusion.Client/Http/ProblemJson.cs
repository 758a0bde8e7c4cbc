using System.Net.Http.Json;
using System.Text.Json;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Client.Http;

/// <summary>An RFC 9457 problem details body as the API sends it; <see cref="Errors"/> maps each bad field (snake_case)
/// to its messages.</summary>
internal sealed record ProblemJson
{
    public string? Type { get; init; }
    public string? Title { get; init; }
    public int? Status { get; init; }
    public string? Detail { get; init; }
    public Dictionary<string, string[]>? Errors { get; init; }
    public int? Queued { get; init; }
    public int? Capacity { get; init; }

    /// <summary>The errors with the SDK's field names (kebab-case, as on the command line).</summary>
    public List<ValidationError> ValidationErrors() =>
        Errors?.SelectMany(e => e.Value.Select(m => new ValidationError(e.Key.Replace('_', '-'), m))).ToList() ?? [];

    public static async Task<ProblemJson?> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType is not ("application/problem+json" or "application/json")) return null;
        try
        {
            return await response.Content.ReadFromJsonAsync<ProblemJson>(DiffusionJson.Options, cancellationToken);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
