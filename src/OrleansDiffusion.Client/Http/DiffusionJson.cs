using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansDiffusion.Client.Http;

/// <summary>The JSON conventions of the OrleansDiffusion HTTP API: snake_case names, lower-case enum strings, as
/// <c>odiff jobs --json</c> prints them.</summary>
public static class DiffusionJson
{
    /// <summary>Serializer options for every body the API sends or accepts.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
