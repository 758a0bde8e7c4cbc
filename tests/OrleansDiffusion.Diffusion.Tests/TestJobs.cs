using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Diffusion.Tests;

/// <summary>Small real jobs shared by the engine tests (one exemplar denoiser per test class run).</summary>
internal static class TestJobs
{
    private static readonly Lazy<ExemplarDenoiser> SharedDenoiser = new(() => TensorScopeAttribute.Kept(() =>
    {
        var exemplar = ExemplarCatalog.FromPrompt("wood", JobComponents.ExemplarSize);
        return new ExemplarDenoiser(exemplar.Image, new ExemplarDenoiserOptions { PatchCount = 256 });
    }));

    public static ExemplarDenoiser Denoiser => SharedDenoiser.Value;

    public static JobSpec Spec(int size, int tile, int overlap, SyncMode sync, int steps = 12, long seed = 3) => new()
    {
        Prompt = "wood",
        Width = size,
        Height = size,
        Tile = tile,
        Overlap = overlap,
        Sync = sync,
        Steps = steps,
        Seed = seed,
    };

    /// <summary>The job, run to the end on the thread pool: blocking on it under the test's synchronization context would
    /// leave the engine's last continuations queued there, and xUnit would then finish the test on another thread than
    /// the one holding its tensor scope (<see cref="TensorScopeAttribute"/>).</summary>
    public static EngineResult Run(JobSpec spec) => Task.Run(() => LocalGeneration.RunAsync(spec, Denoiser)).GetAwaiter().GetResult();
}
