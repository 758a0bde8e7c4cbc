using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Noise;
using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.Sync;
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
    public static JobDeviceContext Create(TileAssignment assignment, TorchSharp.torch.Device device, bool half)
    {
        var spec = assignment.Spec;
        var denoiser = JobComponents.CreateDenoiser(spec, device, half);
        var sync = JobComponents.CreateSync(spec.Sync);
        var plan = JobComponents.Plan(spec, denoiser, sync);
        if (plan.Context != assignment.Context || plan.Layout.Count != assignment.TileCount)
            throw new InvalidOperationException($"tile plan disagrees with the coordinator's (context {plan.Context} vs {assignment.Context}, {plan.Layout.Count} vs {assignment.TileCount} tiles)");
        return new JobDeviceContext(plan, denoiser, JobComponents.CreateScheduler(spec, denoiser));
    }

    public void Dispose() => Denoiser.Dispose();
}
