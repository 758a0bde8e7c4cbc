using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Diffusion.Tests.Engine;

/// <summary>Halo sync with a local denoiser computes exactly what the untiled canvas would.</summary>
public class HaloExactnessTests
{
    [Theory]
    [InlineData(160, 64)]   // 3×3 tiles, the last row/column shifted inward (uneven)
    [InlineData(160, 80)]   // even 2×2
    [InlineData(160, 40)]   // 4×4, small tiles: the halo exceeds half the tile
    public void Halo_tiled_output_equals_the_untiled_output(int size, int tile)
    {
        using var untiled = TestJobs.Run(TestJobs.Spec(size, size, 0, SyncMode.Halo));
        using var tiled = TestJobs.Run(TestJobs.Spec(size, tile, 0, SyncMode.Halo));
        Assert.Equal(1, untiled.Statistics.Tiles);
        Assert.True(tiled.Statistics.Tiles > 1);
        var difference = TensorAssertions.MaxDifference(tiled.Canvas, untiled.Canvas);
        Assert.True(difference <= 1f / 255, $"max difference {difference} exceeds one 8-bit level");
    }

    [Fact]
    public void Halo_is_exact_on_a_tileable_canvas_too()
    {
        var spec = TestJobs.Spec(160, 160, 0, SyncMode.Halo) with { Tileable = true };
        using var untiled = TestJobs.Run(spec);
        using var tiled = TestJobs.Run(spec with { Tile = 64 });
        Assert.True(TensorAssertions.MaxDifference(tiled.Canvas, untiled.Canvas) <= 1f / 255);
    }
}
