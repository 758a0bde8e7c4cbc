using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>DDIM (Song et al. 2021) with η, <see cref="TimestepSpacing"/> and <c>clip_sample</c>, as diffusers' DDIMScheduler.</summary>
public sealed class DdimScheduler : IScheduler
{
    /// <summary>DDIMScheduler's default <c>timestep_spacing</c>.</summary>
    public const string DefaultSpacing = TimestepSpacing.Leading;

    private readonly double[] _alphasCumprod;
    private readonly int[] _timesteps;
    private readonly double _finalAlphaCumprod;
    private readonly double _eta;
    private readonly double? _clipRange;
    private readonly double[] _signal;

    public DdimScheduler(SchedulerConfig config, int steps, double eta = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, config.NumTrainTimesteps);
        _alphasCumprod = config.AlphasCumprod();
        _finalAlphaCumprod = config.SetAlphaToOne ? 1.0 : _alphasCumprod[0];
        _eta = eta;
        _clipRange = config.ClipSample ? config.ClipSampleRange : null;
        Steps = steps;
        Spacing = config.TimestepSpacing ?? DefaultSpacing;
        // diffusers rounds half to even (numpy), as Math.Round does.
        _timesteps = TimestepSpacing.Timesteps(Spacing, config.NumTrainTimesteps, steps, config.StepsOffset).Select(t => (int)Math.Round(t)).ToArray();
        // The x̂ coefficient m of E[x] through Step: m' = √ᾱ_prev + √(1 − ᾱ_prev − s²)·(m − √ᾱ)/√(1 − ᾱ) (s = η·σ_t; the
        // fresh noise adds none), from m = 0; the input at the next step is read at its own ᾱ.
        _signal = new double[steps];
        double coefficient = 0;
        for (var step = 0; step < steps; step++)
        {
            _signal[step] = coefficient / Math.Sqrt(AlphaBar(step));
            var (alpha, alphaPrev, std) = (AlphaBar(step), AlphaBarPrevious(step), _eta * Math.Sqrt(Variance(step)));
            coefficient = Math.Sqrt(alphaPrev) + Math.Sqrt(Math.Max(0, 1 - alphaPrev - std * std)) * (coefficient - Math.Sqrt(alpha)) / Math.Sqrt(1 - alpha);
        }
    }

    public int Steps { get; }
    public string Spacing { get; }
    public IReadOnlyList<int> TimestepValues => _timesteps;
    public double InitNoiseSigma => 1.0;
    public double Timestep(int step) => _timesteps[step];
    public double AlphaBar(int step) => _alphasCumprod[_timesteps[step]];
    public Tensor ModelInput(Tensor x, int step) => x.alias();
    public bool UsesNoise(int step) => _eta > 0 && Variance(step) > 0;
    public double SignalFraction(int step) => _signal[step];

    /// <summary>As diffusers: x̂0 is clamped when <c>clip_sample</c> is on, ε̂ is used as predicted (use_clipped_model_output off).</summary>
    public Tensor Step(Tensor x, Tensor sample, Tensor epsilon, int step, Tensor? noise)
    {
        var alphaPrev = AlphaBarPrevious(step);
        var std = _eta * Math.Sqrt(Variance(step));
        using var clipped = _clipRange is { } range ? ScalarMath.Clamp(sample, -range, range) : sample.alias();
        using var towardSample = ScalarMath.Times(clipped, Math.Sqrt(alphaPrev));
        using var towardEpsilon = ScalarMath.Times(epsilon, Math.Sqrt(Math.Max(0, 1 - alphaPrev - std * std)));
        var next = towardSample.Plus(towardEpsilon);
        if (std > 0)
        {
            ArgumentNullException.ThrowIfNull(noise);
            next.AddInPlace(noise, std);
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
}
