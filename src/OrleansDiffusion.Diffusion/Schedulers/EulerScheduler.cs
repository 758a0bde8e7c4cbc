using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>
/// Euler discrete sampler in σ space (diffusers' EulerDiscreteScheduler without churn): σ = √((1−ᾱ)/ᾱ),
/// x̂0 from the prediction, d = (x − x̂0)/σ_i, x_next = x + d·(σ_{i+1} − σ_i); optionally Karras sigmas (ρ = 7).
/// </summary>
public sealed class EulerScheduler : IScheduler
{
    private const double Rho = 7.0;
    private readonly double[] _sigmas;
    private readonly double[] _timesteps;

    public EulerScheduler(SchedulerConfig config, int steps, bool karras = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var alphas = config.AlphasCumprod();
        var trainSigmas = alphas.Select(a => Math.Sqrt((1 - a) / a)).ToArray();
        var n = config.NumTrainTimesteps;
        Steps = steps;
        if (karras)
        {
            var sigmaMin = trainSigmas[0];
            var sigmaMax = trainSigmas[^1];
            double minInvRho = Math.Pow(sigmaMin, 1 / Rho), maxInvRho = Math.Pow(sigmaMax, 1 / Rho);
            _sigmas = Enumerable.Range(0, steps)
                .Select(i => Math.Pow(maxInvRho + (steps == 1 ? 0 : (double)i / (steps - 1)) * (minInvRho - maxInvRho), Rho))
                .Append(0).ToArray();
            _timesteps = _sigmas.Take(steps).Select(s => SigmaToTimestep(s, trainSigmas)).ToArray();
        }
        else
        {
            _timesteps = config.TimestepSpacing switch
            {
                "linspace" => Enumerable.Range(0, steps).Reverse().Select(i => steps == 1 ? 0 : i * (n - 1.0) / (steps - 1)).ToArray(),
                "leading" => Enumerable.Range(0, steps).Reverse().Select(i => (double)(i * (n / steps) + config.StepsOffset)).ToArray(),
                "trailing" => Enumerable.Range(0, steps).Select(i => Math.Round(n - i * ((double)n / steps)) - 1).ToArray(),
                _ => throw new NotSupportedException($"timestep_spacing '{config.TimestepSpacing}' is not supported (leading, trailing, linspace)"),
            };
            _sigmas = _timesteps.Select(t => Interpolate(trainSigmas, t)).Append(0).ToArray();
        }
        InitNoiseSigma = config.TimestepSpacing is "linspace" or "trailing" || karras
            ? _sigmas.Max()
            : Math.Sqrt(_sigmas.Max() * _sigmas.Max() + 1);
    }

    public int Steps { get; }
    public IReadOnlyList<double> Sigmas => _sigmas;
    public double InitNoiseSigma { get; }
    public double Timestep(int step) => _timesteps[step];
    public double AlphaBar(int step) => 1 / (_sigmas[step] * _sigmas[step] + 1);
    public Tensor ModelInput(Tensor x, int step) => x / Math.Sqrt(_sigmas[step] * _sigmas[step] + 1);
    public bool UsesNoise(int step) => false;

    public Tensor Step(Tensor x, Tensor sample, Tensor epsilon, int step, Tensor? noise)
    {
        var derivative = (x - sample) / _sigmas[step];
        return x + derivative * (_sigmas[step + 1] - _sigmas[step]);
    }

    private static double Interpolate(double[] values, double t)
    {
        var low = (int)Math.Floor(t);
        var high = Math.Min(low + 1, values.Length - 1);
        var w = t - low;
        return values[low] * (1 - w) + values[high] * w;
    }

    /// <summary>Inverse of the training sigmas by interpolation in log σ (as diffusers' _sigma_to_t).</summary>
    private static double SigmaToTimestep(double sigma, double[] trainSigmas)
    {
        var logSigma = Math.Log(Math.Max(sigma, 1e-10));
        var logs = trainSigmas.Select(s => Math.Log(s)).ToArray();
        var low = 0;
        for (var i = 0; i < logs.Length - 1; i++)
            if (logSigma >= logs[i]) low = i;
        low = Math.Min(low, logs.Length - 2);
        var w = Math.Clamp((logs[low] - logSigma) / (logs[low] - logs[low + 1]), 0, 1);
        return (1 - w) * low + w * (low + 1);
    }
}
