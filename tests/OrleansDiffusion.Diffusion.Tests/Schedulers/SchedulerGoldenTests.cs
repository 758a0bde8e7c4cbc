using OrleansDiffusion.Diffusion.Schedulers;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Schedulers;

/// <summary>Golden values computed independently in float64 from diffusers' formulas (DESIGN §5.2).</summary>
public class SchedulerGoldenTests
{
    private static readonly SchedulerConfig StableDiffusion = SchedulerConfig.StableDiffusion;

    private static double Scalar(Tensor t) => t.to(ScalarType.Float64).item<double>();
    private static Tensor Value(double v) => tensor(v, ScalarType.Float64);

    [Fact]
    public void Scaled_linear_alphas_cumprod()
    {
        var alphas = StableDiffusion.AlphasCumprod();
        Assert.Equal(0.99915, alphas[0], 12);
        Assert.Equal(0.9982960278384514, alphas[1], 12);
        Assert.Equal(0.2763326838229746, alphas[500], 12);
        Assert.Equal(0.004660098513077236, alphas[999], 12);
    }

    [Fact]
    public void Ddim_leading_timesteps()
    {
        var ddim = new DdimScheduler(StableDiffusion, 20);
        Assert.Equal([951, 901, 851], ddim.TimestepValues.Take(3));
        Assert.Equal(1, ddim.TimestepValues[^1]);
    }

    [Fact]
    public void Ddim_epsilon_step_eta_zero()
    {
        var ddim = new DdimScheduler(StableDiffusion, 20);
        var (x0, eps) = Prediction.Decompose(Value(0.5), Value(0.3), PredictionType.Epsilon, ddim.AlphaBar(0));
        Assert.Equal(0.561592650266666, Scalar(ddim.Step(Value(0.5), x0, eps, 0, null)), 10);
    }

    [Fact]
    public void Ddim_epsilon_step_eta_one_uses_the_injected_noise()
    {
        var ddim = new DdimScheduler(StableDiffusion, 20, eta: 1);
        Assert.Equal(0.41523977893941766, ddim.Variance(0), 10);
        Assert.True(ddim.UsesNoise(0));
        var (x0, eps) = Prediction.Decompose(Value(0.5), Value(0.3), PredictionType.Epsilon, ddim.AlphaBar(0));
        Assert.Equal(0.039272133117844776, Scalar(ddim.Step(Value(0.5), x0, eps, 0, Value(-0.7))), 10);
    }

    [Fact]
    public void Ddim_last_step_lands_on_the_clean_estimate()
    {
        var ddim = new DdimScheduler(StableDiffusion, 20);
        var (x0, eps) = Prediction.Decompose(Value(0.5), Value(0.3), PredictionType.Epsilon, ddim.AlphaBar(19));
        Assert.Equal(0.4880322146257678, Scalar(ddim.Step(Value(0.5), x0, eps, 19, null)), 10);
    }

    [Fact]
    public void Ddim_v_prediction_step()
    {
        var ddim = new DdimScheduler(StableDiffusion, 20);
        var (x0, eps) = Prediction.Decompose(Value(0.5), Value(0.3), PredictionType.VPrediction, ddim.AlphaBar(0));
        Assert.Equal(0.491344830231201, Scalar(ddim.Step(Value(0.5), x0, eps, 0, null)), 10);
    }

    [Fact]
    public void Euler_linspace_sigmas_and_step()
    {
        var euler = new EulerScheduler(StableDiffusion with { TimestepSpacing = "linspace" }, 10);
        Assert.Equal(14.614641229333643, euler.Sigmas[0], 9);
        Assert.Equal(1.3449277833514826, euler.Sigmas[5], 9);
        Assert.Equal(0.029167158151720367, euler.Sigmas[9], 9);
        Assert.Equal(0.0, euler.Sigmas[10]);
        Assert.Equal(444.0, euler.Timestep(5), 9);
        Assert.Equal(14.614641229333643, euler.InitNoiseSigma, 9);

        var x = Value(2.0);
        var (x0, eps) = Prediction.Decompose(euler.ModelInput(x, 0), Value(0.4), PredictionType.Epsilon, euler.AlphaBar(0));
        Assert.Equal(-0.709903342605533, Scalar(euler.Step(x, x0, eps, 0, null)), 9);
    }

    [Fact]
    public void Euler_karras_sigmas_span_the_linspace_schedule()
    {
        var euler = new EulerScheduler(StableDiffusion with { TimestepSpacing = TimestepSpacing.Linspace }, 10, karras: true);
        Assert.Equal(14.614641229333643, euler.Sigmas[0], 9);
        Assert.Equal(1.7494170492511885, euler.Sigmas[4], 9);
        Assert.Equal(0.02916715815172038, euler.Sigmas[9], 9);
        Assert.Equal(0.0, euler.Sigmas[10]);
    }

    [Fact]
    public void Predictions_decompose_consistently()
    {
        const double alphaBar = 0.3;
        double a = Math.Sqrt(alphaBar), b = Math.Sqrt(1 - alphaBar);
        var x0 = Value(0.25);
        var eps = Value(-1.5);
        var x = a * x0 + b * eps;
        foreach (var (type, output) in new[]
        {
            (PredictionType.Epsilon, eps), (PredictionType.Sample, x0), (PredictionType.VPrediction, a * eps - b * x0),
        })
        {
            var (sample, epsilon) = Prediction.Decompose(x, output, type, alphaBar);
            Assert.Equal(0.25, Scalar(sample), 10);
            Assert.Equal(-1.5, Scalar(epsilon), 10);
        }
    }
}
