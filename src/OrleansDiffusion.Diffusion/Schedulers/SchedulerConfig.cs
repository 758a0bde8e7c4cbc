namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>
/// The training noise schedule and sampling options, named as in diffusers' scheduler_config.json. The property
/// defaults are diffusers' own defaults (DDIMScheduler and EulerDiscreteScheduler agree on them) and are the only
/// place they are written: the config reader falls back to them for absent keys. Where the two classes differ
/// (timestep spacing) the property is null and each scheduler applies its class default.
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary>The schedule of Stable Diffusion 1.x/2.x (β scaled_linear 0.00085..0.012, steps_offset 1, leading
    /// spacing, ᾱ_final 1, no clipping): what the built-in exemplar denoiser samples with.</summary>
    public static readonly SchedulerConfig StableDiffusion = new()
    {
        BetaStart = 0.00085,
        BetaEnd = 0.012,
        BetaSchedule = "scaled_linear",
        StepsOffset = 1,
        TimestepSpacing = Schedulers.TimestepSpacing.Leading,
        ClipSample = false,
    };

    public int NumTrainTimesteps { get; init; } = 1000;
    public double BetaStart { get; init; } = 0.0001;
    public double BetaEnd { get; init; } = 0.02;

    /// <summary>"scaled_linear" (Stable Diffusion) or "linear".</summary>
    public string BetaSchedule { get; init; } = "linear";

    public int StepsOffset { get; init; }

    /// <summary>DDIM: the final ᾱ is 1 (clean output) rather than ᾱ_0.</summary>
    public bool SetAlphaToOne { get; init; } = true;

    public PredictionType Prediction { get; init; } = PredictionType.Epsilon;

    /// <summary>"leading", "trailing" or "linspace"; null: the scheduler class's default (DDIM leading, Euler linspace).</summary>
    public string? TimestepSpacing { get; init; }

    /// <summary>DDIM: clamp x̂0 to ±<see cref="ClipSampleRange"/> (diffusers' default is on; SD configs turn it off).</summary>
    public bool ClipSample { get; init; } = true;

    public double ClipSampleRange { get; init; } = 1.0;

    /// <summary>Euler: Karras σ spacing (ρ = 7) unless the job chooses otherwise.</summary>
    public bool UseKarrasSigmas { get; init; }

    /// <summary>Euler with Karras σ: the σ range; null takes it from the spaced schedule, as diffusers.</summary>
    public double? SigmaMin { get; init; }

    public double? SigmaMax { get; init; }

    /// <summary>ᾱ_t = ∏(1 − β) for every training timestep.</summary>
    public double[] AlphasCumprod()
    {
        var n = NumTrainTimesteps;
        var result = new double[n];
        var product = 1.0;
        for (var i = 0; i < n; i++)
        {
            var fraction = n == 1 ? 0 : (double)i / (n - 1);
            var beta = BetaSchedule switch
            {
                "scaled_linear" => Math.Pow(Math.Sqrt(BetaStart) + fraction * (Math.Sqrt(BetaEnd) - Math.Sqrt(BetaStart)), 2),
                "linear" => BetaStart + fraction * (BetaEnd - BetaStart),
                _ => throw new NotSupportedException($"beta_schedule '{BetaSchedule}' is not supported (scaled_linear, linear)"),
            };
            product *= 1 - beta;
            result[i] = product;
        }
        return result;
    }
}
