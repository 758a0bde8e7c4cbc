using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// Decodes a latent canvas in tiles with memory bounded by the tile size. Each tile decodes its window plus a
/// halo of latent cells covering the decoder's convolutional receptive field, and keeps only its window, so
/// convolutions match the untiled decode exactly. Every GroupNorm uses statistics pooled over the windows of
/// all tiles (measured norm by norm, each pass recomputing up to the norm being measured), so tiles share one
/// normalization and no tile shifts colour. The one remaining difference from the untiled decode is the
/// mid-block self-attention, which attends within the tile's window plus halo instead of the whole canvas.
/// </summary>
public static class TiledVaeDecoder
{
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
    public static Tensor Decode(AutoencoderKL vae, Tensor latent, int tile = 64, int? halo = null)
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
        var decoder = vae.decoder;
        var norms = StrictWeights.GroupNorms(decoder);
        var pooling = new GroupNormPooling();
        using var z = vae.DecoderInput(latent.unsqueeze(0));
        var windows = (from y in Enumerable.Range(0, (height + tile - 1) / tile)
                       from x in Enumerable.Range(0, (width + tile - 1) / tile)
                       select (Y: y * tile, X: x * tile, H: Math.Min(tile, height - y * tile), W: Math.Min(tile, width - x * tile))).ToArray();
        foreach (var norm in norms) norm.Pooling = pooling;
        try
        {
            for (var measured = 0; measured < norms.Length; measured++)
            {
                foreach (var window in windows)
                {
                    using var crop = Crop(z, window, context, height, width, pooling);
                    pooling.BeginPass();
                    try
                    {
                        using var unused = decoder.forward(crop);
                        throw new InvalidOperationException($"the decoder ran {norms.Length} norms without reaching norm {measured}");
                    }
                    catch (StatisticsRecordedException)
                    {
                        // this tile's share of the statistics is taken; the rest of the pass is not needed
                    }
                }
                pooling.Freeze(pooling.MeasuringEps);
            }
            var output = zeros(vae.Config.OutChannels, height * scale, width * scale, device: latent.device);
            foreach (var window in windows)
            {
                using var crop = Crop(z, window, context, height, width, pooling);
                pooling.BeginPass();
                using var decoded = decoder.forward(crop);
                var core = pooling.Core;
                using var kept = decoded[0].narrow(1, core.Top * scale, core.Height * scale).narrow(2, core.Left * scale, core.Width * scale);
                output.narrow(1, window.Y * scale, window.H * scale).narrow(2, window.X * scale, window.W * scale).copy_(kept);
            }
            return output;
        }
        finally
        {
            foreach (var norm in norms) norm.Pooling = null;
        }
    }

    private static Tensor Crop(Tensor z, (int Y, int X, int H, int W) window, int context, int height, int width, GroupNormPooling pooling)
    {
        var top = Math.Max(0, window.Y - context);
        var left = Math.Max(0, window.X - context);
        var bottom = Math.Min(height, window.Y + window.H + context);
        var right = Math.Min(width, window.X + window.W + context);
        pooling.Core = (window.Y - top, window.X - left, window.H, window.W, bottom - top);
        return z.narrow(2, top, bottom - top).narrow(3, left, right - left);
    }
}
