using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>Builds the parts of a job from its spec, the same way on every machine.</summary>
public static class JobComponents
{
    /// <summary>Side of the procedural exemplar textures.</summary>
    public const int ExemplarSize = 128;

    public static ISyncMode CreateSync(SyncMode mode, AttentionSyncOptions? attention = null) => mode switch
    {
        SyncMode.None => NoSync.Instance,
        SyncMode.Average => WeightedAverageSync.Average,
        SyncMode.Gaussian => WeightedAverageSync.Gaussian,
        SyncMode.Attention => new AttentionSync(attention),
        SyncMode.Halo => HaloSync.Instance,
        _ => throw new InvalidJobException("sync", $"unknown sync mode '{mode}'"),
    };

    public static IScheduler CreateScheduler(JobSpec spec, SchedulerConfig? config = null)
    {
        config ??= new SchedulerConfig();
        return spec.Scheduler switch
        {
            SchedulerKind.Ddim => new DdimScheduler(config, spec.Steps, spec.Eta),
            SchedulerKind.Euler => new EulerScheduler(config, spec.Steps, spec.Karras),
            _ => throw new InvalidJobException("scheduler", $"unknown scheduler '{spec.Scheduler}'"),
        };
    }

    /// <summary>The built-in exemplar denoiser: the user's PNG, or a procedural texture picked by the prompt.</summary>
    public static ExemplarDenoiser CreateExemplarDenoiser(JobSpec spec, ExemplarDenoiserOptions? options = null)
    {
        var exemplar = LoadExemplar(spec);
        using var image = exemplar.Image;
        try
        {
            return new ExemplarDenoiser(image, options, $"exemplar:{exemplar.Name}");
        }
        catch (ArgumentException e)
        {
            throw new InvalidJobException("exemplar", e.Message);
        }
    }

    /// <summary>The model name written into the PNG metadata, e.g. "exemplar:wood".</summary>
    public static string DenoiserName(JobSpec spec)
    {
        var exemplar = LoadExemplar(spec);
        exemplar.Image.Dispose();
        return $"exemplar:{exemplar.Name}";
    }

    public static Exemplar LoadExemplar(JobSpec spec)
    {
        if (spec.ExemplarPath is null) return ExemplarCatalog.FromPrompt(spec.Prompt, ExemplarSize);
        try
        {
            return ExemplarCatalog.FromFile(spec.ExemplarPath);
        }
        catch (InvalidImageException e)
        {
            throw new InvalidJobException("exemplar", e.Message);
        }
    }

    /// <summary>Channels and largest halo of the denoiser a spec selects, without building it (coordinators need only these).</summary>
    public static (int Channels, int MaxHalo) DenoiserShape(JobSpec spec, ExemplarDenoiserOptions? options = null)
    {
        if (spec.ModelPath is not null)
            throw new InvalidJobException("model", "Stable Diffusion model folders are not supported in this build");
        return (3, (options ?? new ExemplarDenoiserOptions()).Schedule.LargestRadius);
    }

    /// <summary>The tile layout and context a job runs with under the given denoiser and sync mode.</summary>
    public static JobPlan Plan(JobSpec spec, IDenoiser denoiser, ISyncMode sync) =>
        Plan(spec, denoiser.Channels, denoiser.MaxHalo, sync);

    public static JobPlan Plan(JobSpec spec, int channels, int maxHalo, ISyncMode sync)
    {
        JobSpecValidator.EnsureValid(spec);
        var overlap = sync.OverlapsWindows ? spec.Overlap : 0;
        var layout = TileLayout.Plan(spec.Width, spec.Height, spec.Tile, overlap, spec.Tileable);
        return new JobPlan(spec, layout, sync.Context(maxHalo), channels);
    }
}
