using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrleansDiffusion.Api.Jobs;

namespace OrleansDiffusion.Api.DeepZoom;

/// <summary>Each completed job's Deep Zoom pyramid, built once from its cached PNG on first request and kept on disk.</summary>
public sealed class DeepZoomCache(ResultCache results, DiffusionApiOptions options, ILogger<DeepZoomCache> logger)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _builds = new();

    /// <summary>The folder holding <c>image.dzi</c> and <c>image_files/</c> for the job, building it the first time.</summary>
    public async Task<string> GetAsync(string jobId, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(results.JobDirectory(jobId), "dzi");
        if (File.Exists(Path.Combine(directory, DeepZoomPyramid.DescriptorName))) return directory;
        var build = _builds.GetOrAdd(jobId, id => new Lazy<Task<string>>(() => BuildAsync(id, directory)));
        try
        {
            return await build.Value.WaitAsync(cancellationToken);
        }
        catch (Exception) when (build.Value.IsFaulted)
        {
            _builds.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(jobId, build));
            throw;
        }
    }

    private async Task<string> BuildAsync(string jobId, string directory)
    {
        var png = await results.GetImageAsync(jobId, CancellationToken.None);
        return await Task.Run(() =>
        {
            // A folder without a descriptor is a build that was interrupted: start again.
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            var clock = Stopwatch.StartNew();
            var levels = DeepZoomPyramid.Build(png, directory, options.DeepZoomTileSize);
            using var reader = new PngRowReader(File.OpenRead(png));
            Log.PyramidBuilt(logger, jobId, reader.Width, reader.Height, levels, clock.ElapsedMilliseconds);
            return directory;
        });
    }
}
