using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Schedulers;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary><c>model_index.json</c>: the pipeline class and which library class each component folder holds.</summary>
public sealed record ModelIndex(string ClassName, IReadOnlyDictionary<string, string> Components)
{
    public static readonly string[] Required = ["unet", "vae", "text_encoder", "tokenizer", "scheduler"];

    public static ModelIndex Read(string path)
    {
        var c = ConfigReader.Open(path);
        var className = c.String("_class_name");
        var components = new Dictionary<string, string>();
        foreach (var name in Required)
        {
            var pair = c.Strings(name);
            if (pair.Length != 2) throw c.Error(name, "must be [library, class]");
            components[name] = pair[1];
        }
        return new ModelIndex(className, components);
    }
}

/// <summary>
/// Reads <c>scheduler/scheduler_config.json</c> (diffusers field names) into a <see cref="SchedulerConfig"/>: absent keys
/// take <see cref="SchedulerConfig"/>'s defaults (diffusers' own); a key set to something these samplers do not do is an
/// error naming the file and the key, never silently ignored.
/// </summary>
public static class SchedulerConfigReader
{
    public static (SchedulerConfig Config, string ClassName) Read(string path) => Read(ConfigReader.Open(path));

    /// <summary>The same from the JSON text of a scheduler config (<paramref name="source"/> names it in errors).</summary>
    public static (SchedulerConfig Config, string ClassName) Parse(string json, string source) => Read(ConfigReader.Parse(json, source));

    private static (SchedulerConfig Config, string ClassName) Read(ConfigReader c)
    {
        var d = new SchedulerConfig();
        var prediction = c.String("prediction_type", "epsilon") switch
        {
            "epsilon" => PredictionType.Epsilon,
            "sample" => PredictionType.Sample,
            "v_prediction" => PredictionType.VPrediction,
            var other => throw c.Error("prediction_type", $"'{other}' is not supported (epsilon, sample, v_prediction)"),
        };
        var config = new SchedulerConfig
        {
            NumTrainTimesteps = c.Int("num_train_timesteps", d.NumTrainTimesteps),
            BetaStart = c.Double("beta_start", d.BetaStart),
            BetaEnd = c.Double("beta_end", d.BetaEnd),
            BetaSchedule = c.String("beta_schedule", d.BetaSchedule),
            StepsOffset = c.Int("steps_offset", d.StepsOffset),
            SetAlphaToOne = c.Bool("set_alpha_to_one", d.SetAlphaToOne),
            Prediction = prediction,
            TimestepSpacing = c.Has("timestep_spacing") ? c.String("timestep_spacing") : d.TimestepSpacing,
            ClipSample = c.Bool("clip_sample", d.ClipSample),
            ClipSampleRange = c.Double("clip_sample_range", d.ClipSampleRange),
            UseKarrasSigmas = c.Bool("use_karras_sigmas", d.UseKarrasSigmas),
            SigmaMin = c.IsNullOrAbsent("sigma_min") ? d.SigmaMin : c.Double("sigma_min"),
            SigmaMax = c.IsNullOrAbsent("sigma_max") ? d.SigmaMax : c.Double("sigma_max"),
        };
        if (config.NumTrainTimesteps < 1) throw c.Error("num_train_timesteps", "must be at least 1");
        if (config.BetaSchedule is not ("scaled_linear" or "linear")) throw c.Error("beta_schedule", $"'{config.BetaSchedule}' is not supported (scaled_linear, linear)");
        if (config.TimestepSpacing is { } spacing && !TimestepSpacing.Supported.Contains(spacing))
            throw c.Error("timestep_spacing", $"'{spacing}' is not supported ({string.Join(", ", TimestepSpacing.Supported)})");
        if (config.ClipSampleRange <= 0) throw c.Error("clip_sample_range", "must be positive");
        if (!c.IsNullOrAbsent("trained_betas")) throw c.Error("trained_betas", "explicit betas are not supported (use beta_start, beta_end, beta_schedule)");
        foreach (var flag in new[] { "thresholding", "rescale_betas_zero_snr", "use_exponential_sigmas", "use_beta_sigmas" })
            if (c.Bool(flag, false)) throw c.Error(flag, "true is not supported by these samplers (set it to false)");
        foreach (var (key, supported) in new[] { ("interpolation_type", "linear"), ("timestep_type", "discrete"), ("final_sigmas_type", "zero") })
            if (c.String(key, supported) != supported) throw c.Error(key, $"'{c.String(key)}' is not supported ({supported})");
        return (config, c.String("_class_name", "DDIMScheduler"));
    }

    /// <summary>The sampler a model folder names: Euler for Euler*Scheduler, else DDIM (the folder's betas and
    /// prediction type apply either way; other diffusers samplers such as PNDM run as DDIM).</summary>
    public static SchedulerKind DefaultFor(string modelFolder)
    {
        try
        {
            var (_, className) = Read(Path.Combine(modelFolder, "scheduler", "scheduler_config.json"));
            return className.StartsWith("Euler", StringComparison.Ordinal) ? SchedulerKind.Euler : SchedulerKind.Ddim;
        }
        catch (Exception e) when (e is ModelFormatException or IOException or UnauthorizedAccessException)
        {
            return SchedulerKind.Ddim; // the folder's problems are reported when the job is validated
        }
    }
}
