using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Engine;

/// <summary>A tile without kept context pads its window for the denoiser: mirrored, or wrapped on a tileable canvas.</summary>
public class TileWorkerTests
{
    private static TileWorker Tile(bool tileable, int width, int height)
    {
        var spec = new JobSpec { Width = width, Height = height, Tile = Math.Max(width, height), Overlap = 0, Tileable = tileable, Sync = SyncMode.None };
        var plan = new JobPlan(spec, TileLayout.Plan(width, height, spec.Tile, 0, tileable), Context: 0, Channels: 1);
        return new TileWorker(plan, plan.Layout.Windows[0], arange(width * height, dtype: ScalarType.Float32).reshape(1, height, width));
    }

    [Fact]
    public void A_halo_wider_than_the_window_is_mirrored_again_at_each_end()
    {
        using var tile = Tile(tileable: false, width: 3, height: 1);
        using var input = tile.Input(5);
        // Columns 0 1 2 mirrored without repeating the edge, over and over: five to each side.
        Assert.Equal([1f, 0f, 1f, 2f, 1f, 0f, 1f, 2f, 1f, 0f, 1f, 2f, 1f], input[0, 5].data<float>().ToArray());
    }

    [Fact]
    public void A_tileable_window_that_spans_the_canvas_wraps_around_even_past_its_own_width()
    {
        using var tile = Tile(tileable: true, width: 3, height: 2);
        using var input = tile.Input(4);
        Assert.Equal([2f, 0f, 1f, 2f, 0f, 1f, 2f, 0f, 1f, 2f, 0f], input[0, 4].data<float>().ToArray());
        Assert.Equal([0f, 3f, 0f, 3f, 0f, 3f, 0f, 3f, 0f, 3f], input[0, .., 4].data<float>().ToArray());
    }
}
