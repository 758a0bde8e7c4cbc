using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Sync;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>Runs a whole job in this process: the engine over an <see cref="InProcessTileRuntime"/>; a latent
/// denoiser's (<see cref="ILatentDecoder"/>) canvas is decoded to pixels after the last step.</summary>
public static class LocalGeneration
{
    public static async Task<EngineResult> RunAsync(JobSpec spec, IDenoiser? denoiser = null, IProgress<StepProgress>? progress = null,
        AttentionSyncOptions? attention = null, CancellationToken cancellationToken = default)
    {
        JobSpecValidator.EnsureValid(spec);
        if (TorchThreads.Current == 0) TorchThreads.Configure();
        var ownsDenoiser = denoiser is null;
        denoiser ??= JobComponents.CreateDenoiser(spec);
        try
        {
            var sync = JobComponents.CreateSync(spec.Sync, attention);
            var plan = JobComponents.Plan(spec, denoiser, sync);
            var scheduler = JobComponents.CreateScheduler(spec, denoiser);
            EngineResult result;
            await using (var runtime = new InProcessTileRuntime(denoiser, scheduler))
                result = await new TiledDiffusionEngine(sync).RunAsync(plan, runtime, progress, cancellationToken: cancellationToken);
            if (denoiser is not ILatentDecoder decoder) return result;
            using (result)
            {
                var decoding = System.Diagnostics.Stopwatch.StartNew();
                var pixels = decoder.Decode(result.Canvas);
                return new EngineResult(pixels, result.Statistics with { DecodeSeconds = decoding.Elapsed.TotalSeconds });
            }
        }
        finally
        {
            if (ownsDenoiser) denoiser.Dispose();
        }
    }
}
