using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>DDIM (Song et al. 2021) with η and "leading"/"trailing"/"linspace" timestep spacing, as diffusers' DDIMScheduler.</summary>
public sealed class DdimScheduler : IScheduler
{
    private readonly double[] _alphasCumprod;
    private readonly int[] _timesteps;
    private readonly double _finalAlphaCumprod;
    private readonly double _eta;

    public DdimScheduler(SchedulerConfig config, int steps, double eta = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, config.NumTrainTimesteps);
        _alphasCumprod = config.AlphasCumprod();
        _finalAlphaCumprod = config.SetAlphaToOne ? 1.0 : _alphasCumprod[0];
        _eta = eta;
        Steps = steps;
        _timesteps = Timesteps(config, steps);
    }

    public int Steps { get; }
    public IReadOnlyList<int> TimestepValues => _timesteps;
    public double InitNoiseSigma => 1.0;
    public double Timestep(int step) => _timesteps[step];
    public double AlphaBar(int step) => _alphasCumprod[_timesteps[step]];
    public Tensor ModelInput(Tensor x, int step) => x.alias();
    public bool UsesNoise(int step) => _eta > 0 && Variance(step) > 0;

    public Tensor Step(Tensor x, Tensor sample, Tensor epsilon, int step, Tensor? noise)
    {
        var alphaPrev = AlphaBarPrevious(step);
        var std = _eta * Math.Sqrt(Variance(step));
        var next = Math.Sqrt(alphaPrev) * sample + Math.Sqrt(Math.Max(0, 1 - alphaPrev - std * std)) * epsilon;
        if (std > 0)
        {
            ArgumentNullException.ThrowIfNull(noise);
            next.add_(noise, alpha: std);
        }
        return next;
    }

    /// <summary>σ_t² = (1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev).</summary>
    public double Variance(int step)
    {
        var alpha = AlphaBar(step);
        var alphaPrev = AlphaBarPrevious(step);
        return (1 - alphaPrev) / (1 - alpha) * (1 - alpha / alphaPrev);
    }

    public double AlphaBarPrevious(int step)
    {
        // As diffusers: the previous timestep is t − T/S, whatever the spacing.
        var previous = _timesteps[step] - _alphasCumprod.Length / Steps;
        return previous >= 0 ? _alphasCumprod[previous] : _finalAlphaCumprod;
    }

    internal static int[] Timesteps(SchedulerConfig config, int steps)
    {
        var n = config.NumTrainTimesteps;
        return config.TimestepSpacing switch
        {
            "leading" => Enumerable.Range(0, steps).Reverse().Select(i => i * (n / steps) + config.StepsOffset).ToArray(),
            "trailing" => Enumerable.Range(0, steps).Select(i => (int)Math.Round(n - i * ((double)n / steps)) - 1).ToArray(),
            "linspace" => Enumerable.Range(0, steps).Reverse().Select(i => (int)Math.Round(steps == 1 ? 0 : i * (n - 1.0) / (steps - 1))).ToArray(),
            _ => throw new NotSupportedException($"timestep_spacing '{config.TimestepSpacing}' is not supported (leading, trailing, linspace)"),
        };
    }
}
