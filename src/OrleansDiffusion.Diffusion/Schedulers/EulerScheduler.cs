using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>
/// Euler discrete sampler in σ space (diffusers' EulerDiscreteScheduler without churn): σ = √((1−ᾱ)/ᾱ) interpolated
/// at the spaced timesteps, x̂0 from the prediction, d = (x − x̂0)/σ_i, x_next = x + d·(σ_{i+1} − σ_i); optionally
/// Karras sigmas (ρ = 7) over the spaced schedule's σ range, timesteps mapped back by log-σ interpolation.
/// </summary>
public sealed class EulerScheduler : IScheduler
{
    /// <summary>EulerDiscreteScheduler's default <c>timestep_spacing</c>.</summary>
    public const string DefaultSpacing = TimestepSpacing.Linspace;

    private const double Rho = 7.0;
    private readonly double[] _sigmas;
    private readonly double[] _timesteps;

    /// <param name="karras">Karras σ; null: the config's <c>use_karras_sigmas</c>.</param>
    public EulerScheduler(SchedulerConfig config, int steps, bool? karras = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var alphas = config.AlphasCumprod();
        var trainSigmas = alphas.Select(a => Math.Sqrt((1 - a) / a)).ToArray();
        Steps = steps;
        Spacing = config.TimestepSpacing ?? DefaultSpacing;
        Karras = karras ?? config.UseKarrasSigmas;
        var timesteps = TimestepSpacing.Timesteps(Spacing, config.NumTrainTimesteps, steps, config.StepsOffset);
        var sigmas = timesteps.Select(t => Interpolate(trainSigmas, t)).ToArray();
        if (Karras)
        {
            // diffusers' _convert_to_karras: the range of the spaced schedule unless the config sets it.
            var sigmaMin = config.SigmaMin ?? sigmas[^1];
            var sigmaMax = config.SigmaMax ?? sigmas[0];
            double minInvRho = Math.Pow(sigmaMin, 1 / Rho), maxInvRho = Math.Pow(sigmaMax, 1 / Rho);
            sigmas = Enumerable.Range(0, steps)
                .Select(i => Math.Pow(maxInvRho + (steps == 1 ? 0 : (double)i / (steps - 1)) * (minInvRho - maxInvRho), Rho))
                .ToArray();
            timesteps = sigmas.Select(s => SigmaToTimestep(s, trainSigmas)).ToArray();
        }
        _timesteps = timesteps;
        _sigmas = [.. sigmas, 0];
        var maxSigma = _sigmas.Max();
        InitNoiseSigma = Spacing is TimestepSpacing.Linspace or TimestepSpacing.Trailing ? maxSigma : Math.Sqrt(maxSigma * maxSigma + 1);
    }

    public int Steps { get; }
    public string Spacing { get; }
    public bool Karras { get; }
    public IReadOnlyList<double> Sigmas => _sigmas;
    public IReadOnlyList<double> TimestepValues => _timesteps;
    public double InitNoiseSigma { get; }
    public double Timestep(int step) => _timesteps[step];
    public double AlphaBar(int step) => 1 / (_sigmas[step] * _sigmas[step] + 1);
    public Tensor ModelInput(Tensor x, int step) => ScalarMath.Over(x, Math.Sqrt(_sigmas[step] * _sigmas[step] + 1));
    public bool UsesNoise(int step) => false;

    /// <summary>The model input over √ᾱ is x itself, and each step leaves σ_{i+1}/σ_i of x − x̂: c_i = 1 − σ_i/σ_0.</summary>
    public double SignalFraction(int step) => 1 - _sigmas[step] / _sigmas[0];

    public Tensor Step(Tensor x, Tensor sample, Tensor epsilon, int step, Tensor? noise)
    {
        using var derivative = ScalarMath.Over(x - sample, _sigmas[step]);
        using var change = ScalarMath.Times(derivative, _sigmas[step + 1] - _sigmas[step]);
        return x.Plus(change);
    }

    /// <summary>np.interp over the training timesteps 0..T−1.</summary>
    private static double Interpolate(double[] values, double t)
    {
        if (t <= 0) return values[0];
        if (t >= values.Length - 1) return values[^1];
        var low = (int)Math.Floor(t);
        var w = t - low;
        return values[low] * (1 - w) + values[low + 1] * w;
    }

    /// <summary>Inverse of the training sigmas by interpolation in log σ (as diffusers' _sigma_to_t).</summary>
    private static double SigmaToTimestep(double sigma, double[] trainSigmas)
    {
        var logSigma = Math.Log(Math.Max(sigma, 1e-10));
        var low = 0;
        for (var i = 0; i < trainSigmas.Length; i++)
            if (logSigma >= Math.Log(trainSigmas[i])) low = i;
        low = Math.Min(low, trainSigmas.Length - 2);
        double lowLog = Math.Log(trainSigmas[low]), highLog = Math.Log(trainSigmas[low + 1]);
        var w = Math.Clamp((lowLog - logSigma) / (lowLog - highLog), 0, 1);
        return (1 - w) * low + w * (low + 1);
    }
}
