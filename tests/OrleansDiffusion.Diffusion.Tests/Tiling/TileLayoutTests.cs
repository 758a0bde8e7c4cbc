using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Tests.Tiling;

public class TileLayoutTests
{
    [Theory]
    [InlineData(1024, 1024, 384, 64, false)]
    [InlineData(1000, 600, 256, 48, false)]
    [InlineData(200, 1040, 96, 32, false)]
    [InlineData(500, 300, 512, 64, false)]
    [InlineData(1024, 768, 384, 64, true)]
    [InlineData(1000, 600, 256, 48, true)]
    public void Every_pixel_is_covered_by_full_size_windows(int width, int height, int tile, int overlap, bool wrap)
    {
        var layout = TileLayout.Plan(width, height, tile, overlap, wrap);
        var coverage = new int[width * height];
        foreach (var w in layout.Windows)
        {
            Assert.Equal(Math.Min(tile, width), w.Width);
            Assert.Equal(Math.Min(tile, height), w.Height);
            if (!wrap)
            {
                Assert.InRange(w.X, 0, width - w.Width);
                Assert.InRange(w.Y, 0, height - w.Height);
            }
            for (var y = 0; y < w.Height; y++)
                for (var x = 0; x < w.Width; x++)
                    coverage[(w.Y + y) % height * width + (w.X + x) % width]++;
        }
        Assert.DoesNotContain(0, coverage);
        Assert.Equal(layout.Rows * layout.Columns, layout.Count);
    }

    [Fact]
    public void Neighbours_overlap_by_at_least_the_requested_band_and_edge_windows_shift_inward()
    {
        var xs = TileLayout.Positions(1000, 256, 48, wrap: false);
        Assert.Equal([0, 208, 416, 624, 744], xs);
        for (var i = 1; i < xs.Length; i++) Assert.True(xs[i - 1] + 256 - xs[i] >= 48);
    }

    [Fact]
    public void Wrapping_windows_march_around_the_torus()
    {
        Assert.Equal([0, 192, 384, 576, 768, 960], TileLayout.Positions(1024, 256, 64, wrap: true));
    }

    [Theory]
    [InlineData(0, 10, 0, false)]
    [InlineData(-1, 10, 1, false)]
    [InlineData(-3, 10, 3, false)]
    [InlineData(10, 10, 8, false)]
    [InlineData(12, 10, 6, false)]
    [InlineData(-1, 10, 9, true)]
    [InlineData(13, 10, 3, true)]
    public void Coordinates_beyond_the_edge_mirror_or_wrap(int coordinate, int size, int expected, bool wrap)
    {
        Assert.Equal(expected, TileLayout.MapCoordinate(coordinate, size, wrap));
    }

    [Theory]
    [InlineData(256, 256, 64, 64, "overlap")]
    [InlineData(256, 256, 64, 100, "overlap")]
    [InlineData(256, 256, 0, 0, "tile")]
    [InlineData(0, 256, 64, 0, "width")]
    [InlineData(256, -8, 64, 0, "height")]
    [InlineData(256, 256, 64, -1, "overlap")]
    [InlineData(65536, 65536, 512, 64, "width")]
    public void Invalid_layouts_are_refused_naming_the_argument(int width, int height, int tile, int overlap, string field)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => TileLayout.Plan(width, height, tile, overlap, false));
        Assert.Equal(field, error.ParamName);
    }
}
