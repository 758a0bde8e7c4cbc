using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Noise;
using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.StableDiffusion;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Grains;

/// <summary>What the tiles of one job share on one device: the denoiser, the scheduler, the noise field and the plan;
/// a Stable Diffusion model is leased from the device's model cache (one load per device, shared by all jobs).</summary>
internal sealed class JobDeviceContext(JobPlan plan, IDenoiser denoiser, IScheduler scheduler, ISyncMode sync, IDisposable? lease) : IDisposable
{
    public JobPlan Plan { get; } = plan;

    /// <summary>The plan's band exchange, built on the thread pool as the context is created (tiles await it on their
    /// first band-only step).</summary>
    public Task<BandExchange> Bands { get; } = Task.Run(() => BandExchange.Create(plan, sync));
    public IDenoiser Denoiser { get; } = denoiser;
    public IScheduler Scheduler { get; } = scheduler;
    public NoiseField Noise { get; } = new(plan.Spec.Seed);

    /// <summary>Builds everything from the assignment, exactly as the coordinator planned it (on the thread pool).</summary>
    /// <param name="benchmarkTileMilliseconds">&gt; 0 only on silos started by <c>odiff bench scaling</c>: a fixed-cost simulated denoiser.</param>
    public static async Task<JobDeviceContext> CreateAsync(TileAssignment assignment, TorchSharp.torch.Device device, bool half, string? modelsDirectory,
        ModelCache models, double benchmarkTileMilliseconds = 0)
    {
        var spec = ModelStorePaths.Resolve(assignment.Spec, modelsDirectory);
        ModelLease<StableDiffusionModel>? lease = null;
        IDenoiser denoiser;
        if (benchmarkTileMilliseconds > 0)
        {
            denoiser = new Diffusion.Bench.SimulatedDenoiser(assignment.Channels, assignment.Context, benchmarkTileMilliseconds);
        }
        else if (spec.Model is { } folder)
        {
            JobComponents.OpenModel(spec); // the canvas fits the model's latent grid
            lease = await models.AcquireAsync(folder, device, half && device.type != TorchSharp.DeviceType.CPU);
            denoiser = new StableDiffusionDenoiser(lease.Model, spec.Prompt, spec.NegativePrompt, spec.Cfg);
        }
        else
        {
            denoiser = JobComponents.CreateExemplarDenoiser(spec);
        }
        try
        {
            var sync = JobComponents.CreateSync(spec.Sync);
            var plan = JobComponents.Plan(spec, denoiser, sync);
            if (plan.Context != assignment.Context || plan.Layout.Count != assignment.TileCount)
                throw new InvalidOperationException($"tile plan disagrees with the coordinator's (context {plan.Context} vs {assignment.Context}, {plan.Layout.Count} vs {assignment.TileCount} tiles)");
            return new JobDeviceContext(plan, denoiser, JobComponents.CreateScheduler(spec, denoiser), sync, lease);
        }
        catch
        {
            denoiser.Dispose();
            lease?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Denoiser.Dispose();
        lease?.Dispose();
    }
}

/// <summary>Turns a cluster job's model name into the folder of the silo's model store.</summary>
public static class ModelStorePaths
{
    /// <summary>The spec with <see cref="JobSpec.Model"/> as a folder of the store at <paramref name="modelsDirectory"/>; the
    /// name is checked again here (a client is never trusted), and a store that is not configured is an error naming the model.</summary>
    public static JobSpec Resolve(JobSpec spec, string? modelsDirectory)
    {
        if (spec.Model is not { } name) return spec;
        if (ModelNames.Check(name) is { } problem) throw new InvalidJobException("model", problem);
        if (string.IsNullOrWhiteSpace(modelsDirectory) || !Directory.Exists(modelsDirectory))
            throw new InvalidJobException("model", $"this cluster has no model store (OrleansDiffusion:ModelsDirectory), so model '{name}' cannot be found");
        try
        {
            return spec with { Model = new ModelStore(modelsDirectory).Resolve(name) };
        }
        catch (ModelStoreException e)
        {
            throw new InvalidJobException("model", e.Message);
        }
    }
}
