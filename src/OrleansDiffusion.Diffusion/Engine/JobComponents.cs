using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.StableDiffusion;
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
        config ??= SchedulerConfig.StableDiffusion;
        try
        {
            return spec.Scheduler switch
            {
                SchedulerKind.Ddim => new DdimScheduler(config, spec.Steps, spec.Eta),
                SchedulerKind.Euler => new EulerScheduler(config, spec.Steps, spec.Karras ? true : null),
                _ => throw new InvalidJobException("scheduler", $"unknown scheduler '{spec.Scheduler}'"),
            };
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "steps")
        {
            throw new InvalidJobException("steps", $"{spec.Steps} steps: {e.Message[..e.Message.IndexOf(" (Parameter", StringComparison.Ordinal)]}");
        }
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

    /// <summary>
    /// The denoiser a spec selects: Stable Diffusion from <see cref="JobSpec.Model"/> (a folder path here) (validated strictly, loaded on
    /// the CPU, moved to <paramref name="device"/>), else the built-in exemplar denoiser. A malformed model folder is an
    /// <see cref="InvalidJobException"/> on field "model" naming the file and tensor.
    /// </summary>
    /// <param name="half">keep model weights in fp16 (GPU devices; the CPU keeps fp32).</param>
    public static IDenoiser CreateDenoiser(JobSpec spec, TorchSharp.torch.Device? device = null, bool half = false)
    {
        if (spec.Model is null) return CreateExemplarDenoiser(spec);
        var folder = OpenModel(spec);
        var model = folder.Load(device, half && device is { type: not TorchSharp.DeviceType.CPU });
        try
        {
            return new StableDiffusionDenoiser(model, spec.Prompt, spec.NegativePrompt, spec.Cfg, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Opens and validates the spec's model folder, and checks that the canvas, tile and overlap fit its latent grid.</summary>
    public static DiffusersFolder OpenModel(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec.Model);
        DiffusersFolder folder;
        try
        {
            folder = DiffusersFolder.Open(spec.Model);
        }
        catch (ModelFormatException e)
        {
            throw new InvalidJobException("model", e.Message);
        }
        var scale = folder.LatentScale;
        var multiple = scale << folder.UNet.Downsamplings;
        var errors = new List<ValidationError>();
        if (spec.Width % multiple != 0) errors.Add(new("width", $"must be a multiple of {multiple} for this model (latent 1/{scale}, {folder.UNet.Downsamplings} UNet downsamplings), got {spec.Width}"));
        if (spec.Height % multiple != 0) errors.Add(new("height", $"must be a multiple of {multiple} for this model, got {spec.Height}"));
        if (spec.Tile % multiple != 0) errors.Add(new("tile", $"must be a multiple of {multiple} for this model, got {spec.Tile}"));
        if (spec.Overlap % scale != 0) errors.Add(new("overlap", $"must be a multiple of {scale} (one latent cell) for this model, got {spec.Overlap}"));
        if (spec.Sync == SyncMode.Halo) errors.Add(new("sync", "halo needs a local denoiser; Stable Diffusion is not local (use average, gaussian or attention)"));
        if (errors.Count > 0) throw new InvalidJobException(errors);
        return folder;
    }

    /// <summary>The model name written into the PNG metadata, e.g. "exemplar:wood" or "sd:my-model".</summary>
    public static string DenoiserName(JobSpec spec)
    {
        if (spec.Model is not null) return $"sd:{Path.GetFileName(Path.TrimEndingDirectorySeparator(spec.Model))}";
        // Derived from the spec alone: no texture generated, no PNG decoded just for a name.
        return $"exemplar:{spec.Exemplar?.Name ?? ExemplarCatalog.TextureFor(spec.Prompt)}";
    }

    public static Exemplar LoadExemplar(JobSpec spec)
    {
        if (spec.Exemplar is null) return ExemplarCatalog.FromPrompt(spec.Prompt, ExemplarSize);
        try
        {
            return ExemplarCatalog.FromImage(spec.Exemplar);
        }
        catch (InvalidImageException e)
        {
            throw new InvalidJobException("exemplar", e.Message);
        }
    }

    /// <summary>Channels, largest halo and latent scale of the denoiser a spec selects, without loading weights
    /// (a coordinator plans the tiles with these; a model folder is validated on the way).</summary>
    public static (int Channels, int MaxHalo, int LatentScale) DenoiserShape(JobSpec spec, ExemplarDenoiserOptions? options = null)
    {
        if (spec.Model is null) return (3, (options ?? new ExemplarDenoiserOptions()).Schedule.LargestRadius, 1);
        var folder = OpenModel(spec);
        return (folder.UNet.InChannels, 0, folder.LatentScale);
    }

    /// <summary>The tile layout and context a job runs with under the given denoiser and sync mode.</summary>
    public static JobPlan Plan(JobSpec spec, IDenoiser denoiser, ISyncMode sync) =>
        Plan(spec, denoiser.Channels, denoiser.MaxHalo, sync, (denoiser as ILatentDecoder)?.LatentScale ?? 1);

    /// <param name="latentScale">pixels per canvas cell: the layout is planned on the canvas of width/scale × height/scale cells.</param>
    public static JobPlan Plan(JobSpec spec, int channels, int maxHalo, ISyncMode sync, int latentScale = 1)
    {
        JobSpecValidator.EnsureValid(spec);
        var overlap = sync.OverlapsWindows ? spec.Overlap : 0;
        var layout = TileLayout.Plan(spec.Width / latentScale, spec.Height / latentScale, spec.Tile / latentScale, overlap / latentScale, spec.Tileable);
        return new JobPlan(spec, layout, sync.Context(maxHalo), channels, latentScale);
    }

    /// <summary>The scheduler for a spec under a denoiser: the model's own noise schedule and prediction type where it has one.</summary>
    public static IScheduler CreateScheduler(JobSpec spec, IDenoiser denoiser) =>
        CreateScheduler(spec, (denoiser as StableDiffusionDenoiser)?.SchedulerConfig);
}
