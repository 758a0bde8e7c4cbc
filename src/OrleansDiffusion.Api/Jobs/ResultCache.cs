using System.Collections.Concurrent;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.Api.Jobs;

/// <summary>Finished images copied once from the cluster (through <see cref="DiffusionClient.OpenResultAsync"/>) into
/// the cache directory, so range requests and the Deep Zoom builder can seek. One copy per job, made on first use.</summary>
public sealed class ResultCache(DiffusionClient client, DiffusionApiOptions options)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _copies = new();

    /// <summary>The folder of one job's cached files (the id is a checked job id, so never a path).</summary>
    public string JobDirectory(string jobId) => Path.Combine(options.CacheDirectory, jobId);

    /// <summary>The cached PNG of a completed job, copied from the cluster the first time.</summary>
    public async Task<string> GetImageAsync(string jobId, CancellationToken cancellationToken)
    {
        var path = Path.Combine(JobDirectory(jobId), "image.png");
        if (File.Exists(path)) return path;
        var copy = _copies.GetOrAdd(jobId, id => new Lazy<Task<string>>(() => CopyAsync(id, path)));
        try
        {
            return await copy.Value.WaitAsync(cancellationToken);
        }
        catch (Exception) when (copy.Value.IsFaulted)
        {
            _copies.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(jobId, copy));
            throw;
        }
    }

    private async Task<string> CopyAsync(string jobId, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            // Not the caller's token: a copy outlives the request that started it (others may be waiting on it).
            await using (var source = await client.OpenResultAsync(jobId))
            await using (var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await source.CopyToAsync(target);
            File.Move(temporary, path, overwrite: true);
            return path;
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
