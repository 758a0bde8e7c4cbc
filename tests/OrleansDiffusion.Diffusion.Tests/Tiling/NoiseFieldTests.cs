using OrleansDiffusion.Diffusion.Noise;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Tiling;

public class NoiseFieldTests
{
    [Fact]
    public void A_pixel_has_the_same_noise_whatever_window_samples_it()
    {
        var field = new NoiseField(42);
        using var whole = field.Sample(0, 3, TileLayout.AxisIndices(0, 100, 100, false), TileLayout.AxisIndices(0, 120, 120, false));
        foreach (var (x, y, w, h) in new[] { (0, 0, 40, 30), (37, 51, 64, 49), (119, 99, 1, 1) })
        {
            using var window = field.Sample(0, 3, TileLayout.AxisIndices(y, h, 100, false), TileLayout.AxisIndices(x, w, 120, false));
            using var crop = whole.narrow(1, y, h).narrow(2, x, w);
            Assert.True(window.IsSameAs(crop), $"window at {x},{y} differs");
        }
    }

    [Fact]
    public void Noise_depends_on_seed_step_and_channel()
    {
        var rows = TileLayout.AxisIndices(0, 64, 64, false);
        using var a = new NoiseField(1).Sample(0, 2, rows, rows);
        using var b = new NoiseField(2).Sample(0, 2, rows, rows);
        using var c = new NoiseField(1).Sample(1, 2, rows, rows);
        Assert.False(a.IsSameAs(b));
        Assert.False(a.IsSameAs(c));
        Assert.False(a[0].IsSameAs(a[1]));
    }

    [Fact]
    public void Samples_are_standard_normal()
    {
        var rows = TileLayout.AxisIndices(0, 256, 256, false);
        using var noise = new NoiseField(9).Sample(3, 4, rows, rows);
        Assert.InRange(noise.mean().item<float>(), -0.01f, 0.01f);
        Assert.InRange(noise.std().item<float>(), 0.99f, 1.01f);
        // Neighbouring pixels are uncorrelated.
        var correlation = (noise[.., .., 1..] * noise[.., .., ..^1]).mean().item<float>();
        Assert.InRange(correlation, -0.01f, 0.01f);
    }

    [Fact]
    public void Golden_values_pin_the_field_across_versions()
    {
        using var noise = new NoiseField(1234).Sample(0, 1, [0, 5000], [0, 7]);
        var values = noise.data<float>().ToArray();
        Assert.Equal(GoldenNoise.Values, values, new FloatTolerance(1e-6f));
    }
}

internal sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
    public int GetHashCode(float obj) => 0;
}
