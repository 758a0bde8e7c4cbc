using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>A small PNG of a canvas for progress reports: scaled to fit <see cref="MaxSide"/> pixels. A latent
/// canvas (not 3 channels) shows its first three channels stretched to their range — a rough but useful look.</summary>
public static class PreviewImage
{
    public const int MaxSide = 128;

    /// <param name="canvasSize">the size of the canvas <paramref name="canvas"/> stands for, when it is smaller (a preview
    /// mosaic): the PNG has the size the whole canvas's preview would have.</param>
    public static byte[] Encode(Tensor canvas, (long Height, long Width)? canvasSize = null)
    {
        using var scope = NewDisposeScope();
        var (height, width) = canvasSize ?? (canvas.shape[^2], canvas.shape[^1]);
        var scale = Math.Min(1.0, (double)MaxSide / Math.Max(height, width));
        var size = new[] { Math.Max(1, (long)Math.Round(height * scale)), Math.Max(1, (long)Math.Round(width * scale)) };
        var small = nn.functional.adaptive_avg_pool2d(canvas.unsqueeze(0).to(ScalarType.Float32), size).squeeze(0);
        if (small.shape[0] != 3)
        {
            small = small.narrow(0, 0, Math.Min(3, small.shape[0]));
            if (small.shape[0] < 3) small = small.expand(3, -1, -1);
            var low = small.amin([1, 2], keepdim: true);
            var high = small.amax([1, 2], keepdim: true);
            var unit = (small - low).div(ScalarMath.AtLeast(high - low, 1e-6f));
            small = ScalarMath.Times(unit, 2).AddInPlace(-1);
        }
        using var png = new MemoryStream();
        PngWriter.Write(png, small.contiguous(), PngBitDepth.Eight, "preview");
        return png.ToArray();
    }
}
