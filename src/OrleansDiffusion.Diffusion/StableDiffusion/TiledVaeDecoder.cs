using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// Decodes a latent canvas in tiles. Each tile is a <see cref="VaeDecodeSession"/> over its window plus a halo of
/// latent cells covering the decoder's convolutional receptive field, and keeps only its window, so convolutions
/// match the untiled decode exactly. The sessions advance in lock step from GroupNorm to GroupNorm; at each norm
/// their partial statistics are summed and every tile normalizes with the pooled statistics, so tiles share one
/// normalization and no tile shifts colour. Every layer runs once per tile (plus the halo overlap). The one
/// remaining difference from the untiled decode is the mid-block self-attention, which attends within the tile's
/// window plus halo instead of the whole canvas.
/// <para>
/// Memory: all sessions are alive at once, and between norms each holds one or two activations of its crop, so an
/// unbounded decode needs roughly what the untiled decode keeps live, plus the halo overlap. A
/// <see cref="DecodeMemoryBudget"/> of <c>memoryBudget</c> bytes parks sessions that would not fit beside what the
/// others hold; they replay from their latent crop at the next norm: memory stays near the budget and the cost grows
/// toward one decoder prefix per norm for the parked tiles.
/// </para>
/// </summary>
public static class TiledVaeDecoder
{
    /// <summary>Activations kept live across all tiles before sessions are parked (4 GiB).</summary>
    public const long DefaultMemoryBudget = 4L << 30;

    /// <summary>Latent cells of context each tile needs: the decoder's receptive radius, rounded up, plus one.</summary>
    public static int Halo(VaeConfig config)
    {
        var levels = config.BlockOutChannels.Length;
        double radius = 1 + 4; // conv_in, mid-block resnets
        for (var i = 0; i < levels; i++)
        {
            radius += 2.0 * (config.LayersPerBlock + 1) / (1 << i);
            if (i < levels - 1) radius += 1.0 / (1 << (i + 1));
        }
        radius += 1.0 / (1 << (levels - 1)); // conv_out
        return (int)Math.Ceiling(radius) + 1;
    }

    /// <summary>Scaled latent [C, h, w] → image [3, h·f, w·f] (not clamped).</summary>
    /// <param name="tile">window side in latent cells; a latent that fits in one window is decoded whole.</param>
    /// <param name="memoryBudget">bytes of activations kept live across tiles before sessions are parked.</param>
    public static Tensor Decode(AutoencoderKL vae, Tensor latent, int tile = 64, int? halo = null, long memoryBudget = DefaultMemoryBudget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tile, 1);
        var (height, width) = ((int)latent.shape[1], (int)latent.shape[2]);
        using var noGrad = no_grad();
        if (height <= tile && width <= tile)
        {
            using var batch = latent.unsqueeze(0);
            using var whole = vae.Decode(batch);
            return whole.squeeze(0).clone();
        }
        var context = halo ?? Halo(vae.Config);
        var scale = vae.Config.ScaleFactor;
        var windows = Windows(height, width, tile);
        var sessions = new List<VaeDecodeSession>(windows.Count);
        var budget = new DecodeMemoryBudget(memoryBudget);
        try
        {
            foreach (var window in windows)
            {
                var session = VaeDecodeSession.ForWindow(vae, latent, window, context);
                sessions.Add(session);
                budget.Fit(session);
            }
            while (!sessions[0].IsComplete)
            {
                var pooled = GroupStatistics.Sum(sessions.Select(s => s.Statistics));
                foreach (var session in sessions)
                {
                    session.Continue(pooled);
                    budget.Fit(session);
                }
            }
            var output = zeros(vae.Config.OutChannels, height * scale, width * scale, dtype: sessions[0].Output.dtype, device: latent.device);
            for (var i = 0; i < windows.Count; i++)
            {
                var w = windows[i];
                using var rows = output.narrow(1, w.Top * scale, w.Height * scale);
                using var place = rows.narrow(2, w.Left * scale, w.Width * scale);
                place.copy_(sessions[i].Output);
            }
            return output;
        }
        finally
        {
            foreach (var session in sessions) session.Dispose();
        }
    }

    /// <summary>The decode windows of a latent canvas: a grid of <paramref name="tile"/>-cell squares, row by row (the last row and column shorter).</summary>
    public static IReadOnlyList<LatentRegion> Windows(int height, int width, int tile) =>
        (from y in Enumerable.Range(0, (height + tile - 1) / tile)
         from x in Enumerable.Range(0, (width + tile - 1) / tile)
         select new LatentRegion(y * tile, x * tile, Math.Min(tile, height - y * tile), Math.Min(tile, width - x * tile))).ToArray();
}
