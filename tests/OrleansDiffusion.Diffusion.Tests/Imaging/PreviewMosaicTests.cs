using System.Runtime.InteropServices;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

public class PreviewMosaicTests
{
    [Fact]
    public void Thumbnails_of_windows_that_partition_the_canvas_make_its_area_average()
    {
        var layout = TileLayout.Plan(512, 256, 128, 0, false);          // 4 × 2 windows on multiples of the factor
        var mosaic = new PreviewMosaic(layout);
        Assert.Equal(4, mosaic.Factor);                                 // ⌈512 / 128⌉
        var canvas = rand(3, 256, 512, generator: new Generator(5));
        var payloads = layout.Windows.Select(w =>
        {
            using var window = canvas.narrow(1, w.Y, w.Height).narrow(2, w.X, w.Width).contiguous();
            return mosaic.Thumbnail(MemoryMarshal.Cast<byte, float>(window.bytes), 3, (int)w.Height, (int)w.Width);
        }).ToArray();
        using var assembled = mosaic.Assemble(payloads);
        using var expected = nn.functional.avg_pool2d(canvas.unsqueeze(0), 4).squeeze(0);
        Assert.Equal(expected.shape, assembled.shape);
        Assert.True(assembled.allclose(expected, rtol: 0, atol: 1e-6), "the mosaic is not the canvas's 4×4 average");
        Assert.Equal([3, 32, 32], payloads[0].Shape);                    // 1/16 of a window's cells
        // The PNG has the size of the whole canvas's preview (128 × 64), as on a full exchange.
        var file = Path.Combine(Path.GetTempPath(), $"mosaic-{Guid.NewGuid():N}.png");
        try
        {
            File.WriteAllBytes(file, mosaic.Encode(payloads));
            Assert.Equal(PngReader.ReadHeader(file), WriteAndRead(PreviewImage.Encode(canvas)));
            Assert.Equal((128, 64, 8), PngReader.ReadHeader(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static (int, int, int) WriteAndRead(byte[] png)
    {
        var file = Path.Combine(Path.GetTempPath(), $"preview-{Guid.NewGuid():N}.png");
        try
        {
            File.WriteAllBytes(file, png);
            return PngReader.ReadHeader(file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Overlapping_and_shifted_windows_cover_the_whole_preview()
    {
        var layout = TileLayout.Plan(300, 200, 96, 24, false);          // the last windows are shifted inward
        var mosaic = new PreviewMosaic(layout);
        var side = (96 + mosaic.Factor - 1) / mosaic.Factor;
        var thumbnails = layout.Windows.Select(_ => TensorPayloads.ToPayload(ones(4, side, side))).ToArray();
        using var assembled = mosaic.Assemble(thumbnails);
        Assert.True(assembled.eq(1).all().item<bool>(), "a part of the preview is not covered by any window");
    }

    /// <summary>Thumbnails come from tile processes: one whose shape or byte count is not what the layout gives is
    /// refused, naming the tile.</summary>
    [Fact]
    public void A_malformed_thumbnail_is_refused_naming_its_tile()
    {
        var layout = TileLayout.Plan(300, 200, 96, 24, false);
        var mosaic = new PreviewMosaic(layout);
        var side = (96 + mosaic.Factor - 1) / mosaic.Factor;
        var good = TensorPayloads.ToPayload(ones(4, side, side));
        var cases = new (TensorPayload Thumbnail, string Message)[]
        {
            (good with { Shape = [4, side, side - 1], Data = good.Data[..^(4 * 4 * side)] }, "tile 2's thumbnail"), // a column short
            (good with { Data = good.Data[..^4] }, "tile 2's thumbnail"),                                          // a sample short
            (good with { Shape = [3, side, side] }, "tile 2's thumbnail"),                                         // other channels than tile 0
        };
        foreach (var (thumbnail, message) in cases)
        {
            var thumbnails = layout.Windows.Select(w => w.Index == 2 ? thumbnail : good).ToArray();
            Assert.Contains(message, Assert.Throws<ArgumentException>(() => mosaic.Assemble(thumbnails)).Message);
        }
        Assert.Contains("thumbnails for", Assert.Throws<ArgumentException>(() => mosaic.Encode([good])).Message);
    }
}
