using Microsoft.Extensions.Logging;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Exchange;
using OrleansDiffusion.Diffusion;
using OrleansDiffusion.Diffusion.StableDiffusion;
using OrleansDiffusion.Diffusion.Tiling;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>
/// Decodes a finished latent canvas on the accelerator silos: one decode tile grain per window of the in-process tiled
/// decoder (same windows, halo and order), advancing from GroupNorm to GroupNorm with the statistics summed here, so
/// the pixels equal the in-process tiled decode. The coordinator reads only the model's configs (never its weights),
/// cuts the crops, sums statistics and stitches the pixel tiles. A lost decode tile restarts the decode.
/// </summary>
internal sealed partial class DistributedVaeDecode(IGrainFactory grains, string jobId, int epoch, JobSpec spec, JobOptions options, ILogger logger)
{
    private const int Attempts = 3;

    /// <param name="plan">the job's plan (its spec names the model's folder in this silo's store).</param>
    /// <returns>pixels [3, H, W] in [-1, 1], float32.</returns>
    public async Task<Tensor> DecodeAsync(JobPlan plan, Tensor latent, CancellationToken cancellationToken)
    {
        var config = DiffusersFolder.Open(plan.Spec.Model!).Vae;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await DecodeOnceAsync(config, latent, attempt, cancellationToken);
            }
            catch (Exception e) when (attempt < Attempts && GrainTileRuntime.IsTileLoss(e))
            {
                LogDecodeRestarted(logger, e, jobId, attempt);
            }
        }
    }

    private async Task<Tensor> DecodeOnceAsync(VaeConfig config, Tensor latent, int attempt, CancellationToken cancellationToken)
    {
        var (height, width) = ((int)latent.shape[1], (int)latent.shape[2]);
        var tile = StableDiffusionDenoiser.DefaultDecodeTile;
        var halo = TiledVaeDecoder.Halo(config);
        var windows = TiledVaeDecoder.Windows(height, width, tile);
        var whole = height <= tile && width <= tile;
        var tiles = windows.Select((_, i) => grains.GetGrain<IDecodeTileGrain>($"{jobId}/{epoch}/decode{attempt}/{i}")).ToArray();
        try
        {
            await Task.WhenAll(windows.Select((w, i) => tiles[i].StartAsync(Assignment(latent, w, whole ? 0 : halo, whole))));
            DecodeStatistics? pooled = null;
            for (var norm = 0; ; norm++)
            {
                var progress = await AdvanceAllAsync(tiles, norm, pooled, cancellationToken);
                if (progress.All(p => p.IsComplete)) return await StitchAsync(config, windows, tiles, height, width, cancellationToken);
                if (progress.Any(p => p.IsComplete)) throw new InvalidOperationException($"decode tiles disagree at norm {norm}");
                var sum = GroupStatistics.Sum(progress.Select(p => new GroupStatistics(p.Statistics!.Norm, p.Statistics.Sums, p.Statistics.SquareSums, p.Statistics.Count)));
                pooled = new DecodeStatistics(sum.Norm, sum.Sums, sum.SquareSums, sum.Count);
            }
        }
        finally
        {
            await Task.WhenAll(tiles.Select(async t =>
            {
                try
                {
                    await t.ReleaseAsync().WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
                }
                catch (Exception e) when (e is TimeoutException || GrainTileRuntime.IsTileLoss(e))
                {
                    // Nothing left to free on a lost silo.
                }
            }));
        }
    }

    private DecodeAssignment Assignment(Tensor latent, LatentRegion window, int halo, bool whole)
    {
        var (region, core) = VaeDecodeSession.CropOf(window, halo, (int)latent.shape[1], (int)latent.shape[2]);
        using var rows = latent.narrow(1, region.Top, region.Height);
        using var crop = rows.narrow(2, region.Left, region.Width);
        return new DecodeAssignment
        {
            JobId = jobId,
            Epoch = epoch,
            Spec = spec,
            Crop = TensorPayloads.ToPayload(crop),
            CoreTop = core.Top,
            CoreLeft = core.Left,
            CoreHeight = core.Height,
            CoreWidth = core.Width,
            Whole = whole,
        };
    }

    private async Task<DecodeProgress[]> AdvanceAllAsync(IDecodeTileGrain[] tiles, int norm, DecodeStatistics? pooled, CancellationToken cancellationToken)
    {
        var progress = new DecodeProgress?[tiles.Length];
        while (progress.Any(p => p is null))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.WhenAll(Enumerable.Range(0, tiles.Length).Where(i => progress[i] is null).Select(async i =>
            {
                try
                {
                    progress[i] = await tiles[i].AdvanceAsync(norm, pooled, options.TileCallWait);
                }
                catch (TimeoutException)
                {
                    // unknown outcome: the same call again is idempotent
                }
            }));
        }
        return progress!;
    }

    /// <summary>Tiles read at once while stitching: enough to overlap the transfers, few enough that the coordinator holds
    /// little beyond the image itself.</summary>
    private const int ReadsInFlight = 4;

    private static async Task<Tensor> StitchAsync(VaeConfig config, IReadOnlyList<LatentRegion> windows, IDecodeTileGrain[] tiles, int height, int width,
        CancellationToken cancellationToken)
    {
        var scale = config.ScaleFactor;
        var output = zeros(config.OutChannels, height * scale, width * scale);
        try
        {
            foreach (var chunk in Enumerable.Range(0, windows.Count).Chunk(ReadsInFlight))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var read = await Task.WhenAll(chunk.Select(i => tiles[i].ReadPixelsAsync()));
                for (var k = 0; k < chunk.Length; k++)
                {
                    var w = windows[chunk[k]];
                    using var pixels = TensorPayloads.ToTensor(read[k]);
                    // Views disposed at once: a leaked view would keep the whole image alive until a finalizer runs.
                    using var rows = output.narrow(1, w.Top * scale, w.Height * scale);
                    using var place = rows.narrow(2, w.Left * scale, w.Width * scale);
                    place.copy_(pixels);
                }
            }
            return output.ClampInPlace(-1, 1);
        }
        catch
        {
            output.Dispose();
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: a decode tile was lost (attempt {Attempt}); decoding again")]
    private static partial void LogDecodeRestarted(ILogger logger, Exception exception, string jobId, int attempt);
}
