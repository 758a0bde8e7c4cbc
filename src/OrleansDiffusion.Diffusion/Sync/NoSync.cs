using OrleansDiffusion.Abstractions;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// Tiles never see each other; at the end each pixel is taken from the window it lies deepest inside.
/// This is the baseline that shows seams.
/// </summary>
public sealed class NoSync : ISyncMode
{
    public static NoSync Instance { get; } = new();

    public SyncMode Mode => SyncMode.None;

    public SyncResult Synchronize(SyncInput input)
    {
        var updates = new Tensor?[input.Proposals.Count];
        return new SyncResult(input.IsLast ? Stitch(input) : null, updates);
    }

    private static Tensor Stitch(SyncInput input)
    {
        using var scope = NewDisposeScope();
        var layout = input.Plan.Layout;
        var canvas = zeros(input.Plan.Channels, layout.CanvasHeight, layout.CanvasWidth);
        var best = full(1, layout.CanvasHeight, layout.CanvasWidth, -1f);
        using var depth = Depth(layout.TileHeight, layout.TileWidth);
        for (var i = 0; i < input.Proposals.Count; i++)
        {
            foreach (var piece in CanvasRegions.Pieces(layout.Windows[i], layout.CanvasWidth, layout.CanvasHeight))
            {
                using var pieceScope = NewDisposeScope();
                var tileDepth = piece.OfWindow(depth);
                var region = piece.OfCanvas(best);
                var wins = tileDepth.gt(region);
                region.copy_(where(wins, tileDepth, region));
                var target = piece.OfCanvas(canvas);
                target.copy_(where(wins, piece.OfWindow(input.Proposals[i]), target));
            }
        }
        return canvas.MoveToOuterDisposeScope();
    }

    /// <summary>[1, h, w]: distance to the nearest window edge.</summary>
    private static Tensor Depth(int height, int width)
    {
        using var y = arange(height, dtype: ScalarType.Float32);
        using var x = arange(width, dtype: ScalarType.Float32);
        using var dy = minimum(y, (height - 1) - y).unsqueeze(1);
        using var dx = minimum(x, (width - 1) - x).unsqueeze(0);
        return minimum(dy, dx).unsqueeze(0);
    }
}
