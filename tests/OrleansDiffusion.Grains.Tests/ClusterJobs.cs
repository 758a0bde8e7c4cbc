using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Engine;
using OrleansDiffusion.Diffusion.Imaging;
using OrleansDiffusion.Hosting;

namespace OrleansDiffusion.Grains.Tests;

/// <summary>Runs jobs on embedded clusters and, for comparison, on the in-process engine.</summary>
internal static class ClusterJobs
{
    public static JobSpec Spec(SyncMode sync = SyncMode.Attention, int steps = 6) => new()
    {
        Prompt = "wood",
        Width = 192,
        Height = 160,
        Tile = 64,
        Overlap = sync == SyncMode.Halo ? 0 : 16,
        Sync = sync,
        Steps = steps,
        Seed = 11,
    };

    public static async Task<JobStatus> RunAsync(EmbeddedCluster cluster, JobSpec spec, string? jobId = null)
    {
        jobId ??= $"job-{Guid.NewGuid():N}";
        var coordinator = cluster.Client.GetGrain<ICoordinatorGrain>(jobId);
        await coordinator.SubmitAsync(spec);
        return await WaitAsync(coordinator);
    }

    /// <summary>Watches the job until it finishes (or 3 minutes pass).</summary>
    public static Task<JobStatus> WaitAsync(ICoordinatorGrain coordinator) => WaitForAsync(coordinator, s => s.IsFinished);

    /// <summary>Watches the job until a status satisfies <paramref name="condition"/> or the job finishes.</summary>
    public static async Task<JobStatus> WaitForAsync(ICoordinatorGrain coordinator, Func<JobStatus, bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        JobStatus? last = null;
        await foreach (var status in coordinator.WatchAsync(timeout.Token))
        {
            last = status;
            if (condition(status) || status.IsFinished) return status;
        }
        return last ?? throw new InvalidOperationException("the job does not exist");
    }

    /// <summary>The in-process engine's PNG for the same spec, written exactly as the coordinator writes it.</summary>
    public static async Task<byte[]> InProcessPngAsync(JobSpec spec, string directory)
    {
        using var result = await LocalGeneration.RunAsync(spec);
        var path = Path.Combine(directory, $"in-process-{Guid.NewGuid():N}.png");
        PngWriter.Write(path, result.Canvas, PngBitDepth.Eight, GenerationParameters.Format(spec, JobComponents.DenoiserName(spec)));
        return await File.ReadAllBytesAsync(path);
    }
}

/// <summary>A fresh output directory, removed afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("odiff-grains-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
