using System.Text.Json;
using OrleansDiffusion.Diffusion.Schedulers;
using OrleansDiffusion.Diffusion.StableDiffusion;
using OrleansDiffusion.Diffusion.Tests.StableDiffusion;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Schedulers;

/// <summary>
/// diffusers 0.31's DDIMScheduler / EulerDiscreteScheduler after set_timesteps (TestData/reference/scheduler_cases.json),
/// each case's scheduler_config read by our reader: timesteps, init σ, σ (Euler) or ᾱ at the timesteps (DDIM), for every
/// spacing and the class default. diffusers keeps float32, so values agree to float32 rounding.
/// </summary>
public sealed class SchedulerReferenceTests
{
    private static readonly Lazy<JsonElement[]> Cases = new(() =>
        TestDataFiles.ReadReference("scheduler_cases.json").GetProperty("cases").EnumerateArray().ToArray());

    public static TheoryData<int, string> CaseIndices()
    {
        var data = new TheoryData<int, string>();
        var cases = TestDataFiles.ReadReference("scheduler_cases.json").GetProperty("cases").EnumerateArray().ToArray();
        for (var i = 0; i < cases.Length; i++)
        {
            var config = cases[i].GetProperty("scheduler_config");
            var spacing = config.TryGetProperty("timestep_spacing", out var s) ? s.GetString() : "default";
            var karras = config.TryGetProperty("use_karras_sigmas", out var k) && k.GetBoolean() ? " karras" : "";
            data.Add(i, $"{config.GetProperty("_class_name").GetString()} {spacing}{karras} {cases[i].GetProperty("steps").GetInt32()}");
        }
        return data;
    }

    private static double[] Doubles(JsonElement c, string name) => c.GetProperty(name).EnumerateArray().Select(v => v.GetDouble()).ToArray();

    private static void Close(double[] expected, IReadOnlyList<double> actual, double relative)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * Math.Max(1, Math.Abs(expected[i])),
                $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void The_reference_covers_both_classes_every_spacing_and_karras()
    {
        Assert.Equal(24, Cases.Value.Length);
        Assert.Equal(8, Cases.Value.Count(c => c.GetProperty("scheduler_config").GetProperty("_class_name").GetString() == "DDIMScheduler"));
        Assert.Equal(8, Cases.Value.Count(c => c.GetProperty("scheduler_config").TryGetProperty("use_karras_sigmas", out _)));
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Schedule_equals_diffusers(int index, string name)
    {
        var c = Cases.Value[index];
        var (config, className) = SchedulerConfigReader.Parse(c.GetProperty("scheduler_config").GetRawText(), name);
        var steps = c.GetProperty("steps").GetInt32();
        var timesteps = Doubles(c, "timesteps");
        var initSigma = c.GetProperty("init_noise_sigma").GetDouble();
        if (className == "DDIMScheduler")
        {
            var ddim = new DdimScheduler(config, steps);
            Assert.Equal(timesteps, ddim.TimestepValues.Select(t => (double)t));
            Assert.Equal(initSigma, ddim.InitNoiseSigma);
            Close(Doubles(c, "alphas_cumprod_at_timesteps"), Enumerable.Range(0, steps).Select(ddim.AlphaBar).ToArray(), 1e-6);
        }
        else
        {
            var euler = new EulerScheduler(config, steps);
            // Karras timesteps invert σ in log space over diffusers' float32 ᾱ (a 1000-term float32 cumprod), which
            // amplifies float32 rounding to up to 1.2e-3 of a training step. Their σ range starts from float32 σ_min
            // (1 − ᾱ_0 cancels in float32), so Karras σ agree to 2.3e-6 relative, the others to 1e-6.
            if (euler.Karras) Assert.All(timesteps.Zip(euler.TimestepValues), p => Assert.Equal(p.First, p.Second, 2e-3));
            else Close(timesteps, euler.TimestepValues, 2e-6);
            Close(Doubles(c, "sigmas"), euler.Sigmas, euler.Karras ? 5e-6 : 2e-6);
            Assert.Equal(initSigma, euler.InitNoiseSigma, initSigma * 2e-6);
        }
    }

    [Fact]
    public void Class_defaults_differ_where_diffusers_does()
    {
        var (config, _) = SchedulerConfigReader.Parse("""{"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}""", "test");
        Assert.Null(config.TimestepSpacing);
        Assert.Equal(TimestepSpacing.Leading, new DdimScheduler(config, 10).Spacing);
        Assert.Equal(TimestepSpacing.Linspace, new EulerScheduler(config, 10).Spacing);
        var empty = SchedulerConfigReader.Parse("{}", "test").Config;
        Assert.Equal(new SchedulerConfig(), empty);
        Assert.Equal(0.0001, empty.BetaStart);
        Assert.Equal("linear", empty.BetaSchedule);
        Assert.True(empty.ClipSample);
    }

    [Fact]
    public void Ddim_clip_sample_clamps_the_clean_estimate_to_its_range()
    {
        var (config, _) = SchedulerConfigReader.Parse("""{"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "clip_sample": true, "clip_sample_range": 0.5}""", "test");
        var ddim = new DdimScheduler(config, 20);
        var unclipped = new DdimScheduler(config with { ClipSample = false }, 20);
        using var x = tensor(new[] { 0.3, 2.0, -3.0 });
        using var sample = tensor(new[] { 0.3, 2.0, -3.0 });
        using var eps = zeros(3, ScalarType.Float64);
        using var next = ddim.Step(x, sample, eps, 5, null);
        var a = Math.Sqrt(ddim.AlphaBarPrevious(5));
        Assert.Equal([0.3 * a, 0.5 * a, -0.5 * a], next.data<double>().ToArray(), new ToleranceComparer(1e-12));
        using var free = unclipped.Step(x, sample, eps, 5, null);
        Assert.Equal(2.0 * a, free[1].item<double>(), 12);
    }

    [Theory]
    [InlineData("""{"thresholding": true}""", "thresholding")]
    [InlineData("""{"rescale_betas_zero_snr": true}""", "rescale_betas_zero_snr")]
    [InlineData("""{"timestep_spacing": "quadratic"}""", "timestep_spacing")]
    [InlineData("""{"beta_schedule": "squaredcos_cap_v2"}""", "beta_schedule")]
    [InlineData("""{"interpolation_type": "log_linear"}""", "interpolation_type")]
    [InlineData("""{"final_sigmas_type": "sigma_min"}""", "final_sigmas_type")]
    [InlineData("""{"trained_betas": [0.1, 0.2]}""", "trained_betas")]
    [InlineData("""{"clip_sample_range": 0}""", "clip_sample_range")]
    public void Unsupported_values_are_errors_naming_the_key(string json, string key)
    {
        var error = Assert.Throws<ModelFormatException>(() => SchedulerConfigReader.Parse(json, "scheduler_config.json"));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.Contains("scheduler_config.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Karras_from_the_config_unless_the_job_says_otherwise()
    {
        var config = SchedulerConfig.StableDiffusion with { UseKarrasSigmas = true };
        Assert.True(new EulerScheduler(config, 10).Karras);
        Assert.False(new EulerScheduler(config, 10, karras: false).Karras);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
