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

/// <summary>Reads <c>scheduler/scheduler_config.json</c> (diffusers field names) into a <see cref="SchedulerConfig"/>.</summary>
public static class SchedulerConfigReader
{
    public static (SchedulerConfig Config, string ClassName) Read(string path)
    {
        var c = ConfigReader.Open(path);
        var prediction = c.String("prediction_type", "epsilon") switch
        {
            "epsilon" => PredictionType.Epsilon,
            "sample" => PredictionType.Sample,
            "v_prediction" => PredictionType.VPrediction,
            var other => throw c.Error("prediction_type", $"'{other}' is not supported (epsilon, sample, v_prediction)"),
        };
        var config = new SchedulerConfig
        {
            NumTrainTimesteps = c.Int("num_train_timesteps", 1000),
            BetaStart = c.Double("beta_start", 0.0001),
            BetaEnd = c.Double("beta_end", 0.02),
            BetaSchedule = c.String("beta_schedule", "linear"),
            StepsOffset = c.Int("steps_offset", 0),
            SetAlphaToOne = c.Bool("set_alpha_to_one", true),
            Prediction = prediction,
            TimestepSpacing = c.String("timestep_spacing", "leading"),
        };
        if (config.BetaSchedule is not ("scaled_linear" or "linear")) throw c.Error("beta_schedule", $"'{config.BetaSchedule}' is not supported (scaled_linear, linear)");
        if (config.TimestepSpacing is not ("leading" or "trailing" or "linspace")) throw c.Error("timestep_spacing", $"'{config.TimestepSpacing}' is not supported");
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
