using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// Tiles never see each other; at the end each pixel is taken from the window it lies deepest inside
/// (the first such window on a tie). This is the baseline that shows seams.
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
        var geometry = SyncGeometry.Of(layout);
        var stacked = geometry.Stack(input.Proposals);
        var channels = stacked.shape[0];
        var values = stacked.view(channels, -1);
        var source = DeepestSource(geometry);
        var rows = new Tensor[channels];
        for (var c = 0; c < channels; c++) rows[c] = values[c].index_select(0, source);
        return stack(rows).view(channels, layout.CanvasHeight, layout.CanvasWidth).MoveToOuterDisposeScope();
    }

    /// <summary>[H·W] for every canvas cell, the window cell (grid slot · h·w + position) deepest inside its window
    /// (the first in layout order on a tie).</summary>
    private static Tensor DeepestSource(SyncGeometry geometry)
    {
        var layout = geometry.Layout;
        var (height, width) = (layout.TileHeight, layout.TileWidth);
        var best = new int[geometry.CanvasCells];
        var source = new int[geometry.CanvasCells];
        Array.Fill(best, -1);
        var cells = geometry.WindowCellsOf;
        for (var tile = 0; tile < layout.Count; tile++)
        {
            var first = geometry.TileToGrid[tile] * geometry.WindowCells;
            for (var position = 0; position < geometry.WindowCells; position++)
            {
                var (y, x) = (position / width, position % width);
                var depth = Math.Min(Math.Min(y, height - 1 - y), Math.Min(x, width - 1 - x));
                var cell = cells[first + position];
                if (depth > best[cell]) (best[cell], source[cell]) = (depth, first + position);
            }
        }
        return SyncGeometry.Index(source);
    }
}
