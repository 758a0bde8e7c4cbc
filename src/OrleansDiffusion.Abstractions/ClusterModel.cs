namespace OrleansDiffusion.Abstractions;

/// <summary>A model in the cluster's model store, as <c>odiff models</c> and <c>GET /v1/models</c> list it.</summary>
/// <param name="Family">"sd1" or "sd2"; empty when the folder does not open as a model.</param>
/// <param name="Parameters">parameters of all components, from the weight headers.</param>
/// <param name="DTypes">the weights' dtypes (F32, F16, BF16).</param>
/// <param name="Silos">names of the silos whose model store has it.</param>
/// <param name="Error">why the folder does not open (the strict check's message), or null.</param>
[GenerateSerializer, Immutable, Alias("odiff.ClusterModel")]
public sealed record ClusterModel(
    [property: Id(0)] string Name,
    [property: Id(1)] string Family,
    [property: Id(2)] long Parameters,
    [property: Id(3)] IReadOnlyList<string> DTypes,
    [property: Id(4)] IReadOnlyList<string> Silos,
    [property: Id(5)] string? Error = null);

/// <summary>The models of one silo's store.</summary>
[GenerateSerializer, Immutable, Alias("odiff.SiloModels")]
public sealed record SiloModels([property: Id(0)] string Silo, [property: Id(1)] IReadOnlyList<ClusterModel> Models);

/// <summary>The cluster's model stores (key 0): every silo's store, merged by model name.</summary>
[Alias("odiff.IModelCatalogGrain")]
public interface IModelCatalogGrain : IGrainWithIntegerKey
{
    [Alias("List")]
    Task<IReadOnlyList<ClusterModel>> ListAsync();
}

/// <summary>One silo's model store (key: the silo's address; activated on that silo).</summary>
[Alias("odiff.ISiloModelsGrain"), ClusterInternal]
public interface ISiloModelsGrain : IGrainWithStringKey
{
    [Alias("List")]
    Task<SiloModels> ListAsync();
}
