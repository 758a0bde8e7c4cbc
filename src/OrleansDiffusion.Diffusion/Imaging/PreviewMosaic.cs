using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion.Sync;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>
/// A preview of a canvas that no process holds whole (between full exchanges only bands travel): every tile sends an
/// area-averaged thumbnail of its window at about <see cref="PreviewImage.MaxSide"/> pixels for the whole canvas, and the
/// coordinator pastes the thumbnails at their windows' places. A thumbnail has at most 1/16 of its window's cells (a
/// small canvas gets a coarser preview), so previews never cost more than a few percent of a step's traffic.
/// </summary>
public sealed class PreviewMosaic(TileLayout layout)
{
    private const int MinimumFactor = 4;

    /// <summary>Canvas pixels per thumbnail pixel along each axis.</summary>
    public int Factor { get; } = Math.Max(MinimumFactor, (Math.Max(layout.CanvasWidth, layout.CanvasHeight) + PreviewImage.MaxSide - 1) / PreviewImage.MaxSide);

    /// <summary>The thumbnail of a window's values [C × h × w]: [C, ⌈h / factor⌉, ⌈w / factor⌉] cell means (adaptive
    /// average pooling, as <see cref="SyncKernels.Pool"/>), written straight into the payload that travels.</summary>
    public TensorPayload Thumbnail(ReadOnlySpan<float> window, int channels, int height, int width)
    {
        var (rows, columns) = ((height + Factor - 1) / Factor, (width + Factor - 1) / Factor);
        var thumbnail = new TensorPayload([channels, rows, columns], GC.AllocateUninitializedArray<byte>(channels * rows * columns * sizeof(float)));
        SyncKernels.PoolPlanes(window, height, width, rows, columns, TensorPayloads.Floats(thumbnail));
        return thumbnail;
    }

    /// <summary>The preview PNG from every tile's thumbnail (layout order), the size of the whole canvas's preview.</summary>
    public byte[] Encode(IReadOnlyList<TensorPayload> thumbnails)
    {
        using var scope = NewDisposeScope();
        var mosaic = Assemble(thumbnails.Select(t => TensorPayloads.ToTensor(t)).ToArray());
        return PreviewImage.Encode(mosaic, (layout.CanvasHeight, layout.CanvasWidth));
    }

    /// <summary>The thumbnails pasted at their windows' places, [C, ⌈H / factor⌉, ⌈W / factor⌉] (a later window over an
    /// earlier one; wrapped parts of a tileable canvas's windows are left out).</summary>
    public Tensor Assemble(IReadOnlyList<Tensor> thumbnails)
    {
        var channels = thumbnails[0].shape[0];
        var height = (layout.CanvasHeight + Factor - 1) / Factor;
        var width = (layout.CanvasWidth + Factor - 1) / Factor;
        var mosaic = zeros(channels, height, width);
        foreach (var window in layout.Windows)
        {
            var thumbnail = thumbnails[window.Index];
            var (top, left) = (window.Y / Factor, window.X / Factor);
            var rows = Math.Min(thumbnail.shape[1], height - top);
            var columns = Math.Min(thumbnail.shape[2], width - left);
            if (rows <= 0 || columns <= 0) continue;
            using var target = mosaic.narrow(1, top, rows).narrow(2, left, columns);
            using var source = thumbnail.narrow(1, 0, rows).narrow(2, 0, columns);
            target.copy_(source);
        }
        return mosaic;
    }
}
