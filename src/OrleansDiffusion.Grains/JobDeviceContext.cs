using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Noise;
using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Grains;

/// <summary>What the tiles of one job share on one device: the denoiser, the scheduler, the noise field and the plan.</summary>
internal sealed class JobDeviceContext(JobPlan plan, IDenoiser denoiser, IScheduler scheduler) : IDisposable
{
    public JobPlan Plan { get; } = plan;
    public IDenoiser Denoiser { get; } = denoiser;
    public IScheduler Scheduler { get; } = scheduler;
    public NoiseField Noise { get; } = new(plan.Spec.Seed);

    /// <summary>Builds everything from the assignment, exactly as the coordinator planned it.</summary>
    /// <param name="benchmarkTileMilliseconds">&gt; 0 only on silos started by <c>odiff bench scaling</c>: a fixed-cost simulated denoiser.</param>
    public static JobDeviceContext Create(TileAssignment assignment, TorchSharp.torch.Device device, bool half, string? modelsDirectory, double benchmarkTileMilliseconds = 0)
    {
        var spec = ModelStorePaths.Resolve(assignment.Spec, modelsDirectory);
        var denoiser = benchmarkTileMilliseconds > 0
            ? new Diffusion.Bench.SimulatedDenoiser(assignment.Channels, assignment.Context, benchmarkTileMilliseconds)
            : JobComponents.CreateDenoiser(spec, device, half);
        try
        {
            var sync = JobComponents.CreateSync(spec.Sync);
            var plan = JobComponents.Plan(spec, denoiser, sync);
            if (plan.Context != assignment.Context || plan.Layout.Count != assignment.TileCount)
                throw new InvalidOperationException($"tile plan disagrees with the coordinator's (context {plan.Context} vs {assignment.Context}, {plan.Layout.Count} vs {assignment.TileCount} tiles)");
            return new JobDeviceContext(plan, denoiser, JobComponents.CreateScheduler(spec, denoiser));
        }
        catch
        {
            denoiser.Dispose();
            throw;
        }
    }

    public void Dispose() => Denoiser.Dispose();
}

/// <summary>Turns a cluster job's model name into the folder of the silo's model store.</summary>
public static class ModelStorePaths
{
    /// <summary>The spec with <see cref="JobSpec.Model"/> as a folder under <paramref name="modelsDirectory"/>; the name is
    /// checked again here (a client is never trusted), and a store that is not configured is an error naming the model.</summary>
    public static JobSpec Resolve(JobSpec spec, string? modelsDirectory)
    {
        if (spec.Model is not { } name) return spec;
        if (ModelNames.Check(name) is { } problem) throw new InvalidJobException("model", problem);
        if (string.IsNullOrWhiteSpace(modelsDirectory))
            throw new InvalidJobException("model", $"this cluster has no model store (OrleansDiffusion:ModelsDirectory), so model '{name}' cannot be found");
        var folder = OutputStore.Inside(modelsDirectory, name);
        if (!Directory.Exists(folder)) throw new InvalidJobException("model", $"the cluster's model store has no model '{name}'");
        return spec with { Model = folder };
    }
}
