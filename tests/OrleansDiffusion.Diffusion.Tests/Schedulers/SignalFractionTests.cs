using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Schedulers;

/// <summary>
/// <see cref="IScheduler.SignalFraction"/> against the schedulers' own steps: everything a step does is linear in the
/// latent, the prediction and the noise, so a run from a zero latent with the prediction 1 at every step and zero noise
/// carries exactly the x̂ coefficient c of the model input over √ᾱ.
/// </summary>
public class SignalFractionTests
{
    public static TheoryData<string> Schedulers => ["ddim", "ddim-eta1", "ddim-trailing", "euler", "euler-karras"];

    private static IScheduler Create(string name)
    {
        var config = SchedulerConfig.StableDiffusion;
        return name switch
        {
            "ddim" => new DdimScheduler(config, 20),
            "ddim-eta1" => new DdimScheduler(config, 20, eta: 1),
            "ddim-trailing" => new DdimScheduler(config with { TimestepSpacing = TimestepSpacing.Trailing }, 13),
            "euler" => new EulerScheduler(config, 20),
            "euler-karras" => new EulerScheduler(config, 20, karras: true),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void Equals_the_image_share_of_the_input_that_the_steps_build(string name)
    {
        var scheduler = Create(name);
        using var one = ones(1, ScalarType.Float64);
        using var silence = zeros(1, ScalarType.Float64);
        var x = zeros(1, ScalarType.Float64);
        for (var step = 0; step < scheduler.Steps; step++)
        {
            using var input = scheduler.ModelInput(x, step);
            var share = input.item<double>() / Math.Sqrt(scheduler.AlphaBar(step));
            Assert.Equal(share, scheduler.SignalFraction(step), 12);
            var (sample, epsilon) = Prediction.Decompose(input, one, PredictionType.Sample, scheduler.AlphaBar(step));
            var next = scheduler.Step(x, sample, epsilon, step, scheduler.UsesNoise(step) ? silence : null);
            x.Dispose();
            x = next;
            sample.Dispose();
            epsilon.Dispose();
        }
        x.Dispose();
        Assert.Equal(0, scheduler.SignalFraction(0));
        Assert.InRange(scheduler.SignalFraction(scheduler.Steps - 1), 0.9, 1);
    }

    /// <summary>Deterministic samplers leave σ_{k+1}/σ_k of x − x̂ at each step: c_k = 1 − σ_k/σ_0, σ = √((1 − ᾱ)/ᾱ).</summary>
    [Theory]
    [InlineData("ddim")]
    [InlineData("euler")]
    public void Deterministic_samplers_follow_the_noise_ratio(string name)
    {
        var scheduler = Create(name);
        double Sigma(int step) => Math.Sqrt((1 - scheduler.AlphaBar(step)) / scheduler.AlphaBar(step));
        for (var step = 0; step < scheduler.Steps; step++)
            Assert.Equal(1 - Sigma(step) / Sigma(0), scheduler.SignalFraction(step), 10);
    }

    /// <summary>Fresh noise replaces part of the old one, so a stochastic DDIM puts the image in faster.</summary>
    [Fact]
    public void Stochastic_ddim_puts_the_image_in_faster()
    {
        var (deterministic, stochastic) = (Create("ddim"), Create("ddim-eta1"));
        for (var step = 1; step < deterministic.Steps; step++)
            Assert.True(stochastic.SignalFraction(step) > deterministic.SignalFraction(step), $"step {step}");
    }
}
