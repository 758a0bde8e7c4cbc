using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>A window's rectangle split into pieces that do not cross the canvas edge (a wrapping window has up to four).</summary>
internal readonly record struct CanvasPiece(int WindowX, int WindowY, int CanvasX, int CanvasY, int Width, int Height)
{
    public Tensor OfWindow(Tensor windowTensor) => windowTensor.narrow(-2, WindowY, Height).narrow(-1, WindowX, Width);
    public Tensor OfCanvas(Tensor canvas) => canvas.narrow(-2, CanvasY, Height).narrow(-1, CanvasX, Width);
}

/// <summary>Reads and writes tile windows on a canvas tensor [C, H, W].</summary>
public static class CanvasRegions
{
    internal static IEnumerable<CanvasPiece> Pieces(TileWindow window, int canvasWidth, int canvasHeight)
    {
        foreach (var (wy, cy, h) in Spans(window.Y, window.Height, canvasHeight))
            foreach (var (wx, cx, w) in Spans(window.X, window.Width, canvasWidth))
                yield return new CanvasPiece(wx, wy, cx, cy, w, h);
    }

    private static IEnumerable<(int WindowOffset, int CanvasOffset, int Length)> Spans(int start, int length, int size)
    {
        var offset = 0;
        while (offset < length)
        {
            var canvasOffset = (start + offset) % size;
            var run = Math.Min(length - offset, size - canvasOffset);
            yield return (offset, canvasOffset, run);
            offset += run;
        }
    }

    /// <summary>The window plus <paramref name="context"/> pixels on each side; beyond the canvas edge
    /// the canvas wraps (tileable) or mirrors (torch "reflect"), exactly as an untiled padded canvas would.</summary>
    public static Tensor Crop(Tensor canvas, TileWindow window, int context, bool wrap)
    {
        var height = (int)canvas.shape[^2];
        var width = (int)canvas.shape[^1];
        var inside = window.X - context >= 0 && window.Y - context >= 0
            && window.X + window.Width + context <= width && window.Y + window.Height + context <= height;
        if (inside)
            return canvas.narrow(-2, window.Y - context, window.Height + 2 * context)
                .narrow(-1, window.X - context, window.Width + 2 * context).clone();
        using var rows = tensor(TileLayout.AxisIndices(window.Y - context, window.Height + 2 * context, height, wrap));
        using var columns = tensor(TileLayout.AxisIndices(window.X - context, window.Width + 2 * context, width, wrap));
        using var band = canvas.index_select(-2, rows);
        return band.index_select(-1, columns);
    }

    /// <summary>sum += weight·value and total += weight over the window (weight [1, h, w]; null means 1).</summary>
    public static void Accumulate(Tensor sum, Tensor total, TileWindow window, Tensor value, Tensor? weight)
    {
        var height = (int)sum.shape[^2];
        var width = (int)sum.shape[^1];
        foreach (var piece in Pieces(window, width, height))
        {
            if (weight is null)
            {
                piece.OfCanvas(sum).AddInPlace(piece.OfWindow(value));
                piece.OfCanvas(total).AddInPlace(1);
            }
            else
            {
                using var w = piece.OfWindow(weight);
                using var weighted = piece.OfWindow(value) * w;
                piece.OfCanvas(sum).AddInPlace(weighted);
                piece.OfCanvas(total).AddInPlace(w);
            }
        }
    }
}
