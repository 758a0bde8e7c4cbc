using System.Text.Json.Serialization;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Client.Http;

/// <summary>A model in the cluster's model store as <c>GET /v1/models</c> sends it, with the fields of <c>odiff models --json</c>.</summary>
public sealed record ModelJson(
    string Name,
    string Family,
    long Parameters,
    [property: JsonPropertyName("dtypes")] IReadOnlyList<string> DTypes,
    IReadOnlyList<string> Silos,
    string? Error)
{
    public static ModelJson From(ClusterModel model) => new(model.Name, model.Family, model.Parameters, model.DTypes, model.Silos, model.Error);

    public ClusterModel ToModel() => new(Name, Family, Parameters, DTypes, Silos, Error);
}

/// <summary>The body of <c>GET /v1/models</c>.</summary>
public sealed record ModelListJson(IReadOnlyList<ModelJson> Models);
