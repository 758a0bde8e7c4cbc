namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>The training noise schedule and sampling options, named as in diffusers' scheduler_config.json.</summary>
public sealed record SchedulerConfig
{
    public int NumTrainTimesteps { get; init; } = 1000;
    public double BetaStart { get; init; } = 0.00085;
    public double BetaEnd { get; init; } = 0.012;

    /// <summary>"scaled_linear" (Stable Diffusion) or "linear".</summary>
    public string BetaSchedule { get; init; } = "scaled_linear";

    public int StepsOffset { get; init; } = 1;

    /// <summary>DDIM: the final ᾱ is 1 (clean output) rather than ᾱ_0.</summary>
    public bool SetAlphaToOne { get; init; } = true;

    public PredictionType Prediction { get; init; } = PredictionType.Epsilon;

    /// <summary>"leading", "trailing" or "linspace".</summary>
    public string TimestepSpacing { get; init; } = "leading";

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
