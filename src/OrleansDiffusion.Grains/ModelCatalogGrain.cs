using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.StableDiffusion;

namespace OrleansDiffusion.Grains;

/// <summary>Asks every active silo for its model store and merges the answers by model name.</summary>
public sealed class ModelCatalogGrain(IClusterMembershipService membership) : Grain, IModelCatalogGrain
{
    public async Task<IReadOnlyList<ClusterModel>> ListAsync()
    {
        var silos = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToArray();
        var answers = await Task.WhenAll(silos.Select(async silo =>
        {
            // The placement hint activates the silo's store grain on that silo (its key names it, and it checks).
            RequestContext.Set(IPlacementDirector.PlacementHintKey, silo);
            try
            {
                return await GrainFactory.GetGrain<ISiloModelsGrain>(silo.ToParsableString()).ListAsync().WaitAsync(TimeSpan.FromSeconds(20));
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                return null; // a silo that is going away lists nothing
            }
            finally
            {
                RequestContext.Remove(IPlacementDirector.PlacementHintKey);
            }
        }));
        return answers.OfType<SiloModels>()
            .SelectMany(a => a.Models.Select(m => (a.Silo, Model: m)))
            .GroupBy(x => x.Model.Name, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => g.First().Model with { Silos = g.Select(x => x.Silo).Distinct().Order(StringComparer.Ordinal).ToArray() })
            .ToList();
    }
}

/// <summary>This silo's model store, listed from configs and weight headers (no weights read).</summary>
public sealed class SiloModelsGrain(ILocalSiloDetails silo, IOptions<OutputStoreOptions> store) : Grain, ISiloModelsGrain
{
    public Task<SiloModels> ListAsync()
    {
        if (this.GetPrimaryKeyString() != silo.SiloAddress.ToParsableString())
            throw new InvalidOperationException($"the model store of {this.GetPrimaryKeyString()} was asked on {silo.SiloAddress}");
        var directory = store.Value.ModelsDirectory;
        IReadOnlyList<ClusterModel> models = string.IsNullOrWhiteSpace(directory) || !Directory.Exists(directory)
            ? []
            : new ModelStore(directory).List().Select(m => new ClusterModel(m.Name, m.Family, m.Parameters, m.DTypes, [silo.Name], m.Error)).ToList();
        return Task.FromResult(new SiloModels(silo.Name, models));
    }
}
