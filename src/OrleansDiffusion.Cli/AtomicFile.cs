namespace OrleansDiffusion.Cli;

/// <summary>Writes a file so that readers see either nothing or all of it: a temporary file beside it, then a rename.</summary>
internal static class AtomicFile
{
    /// <param name="expectedLength">when given, a copy of another length is an error and the path is left untouched.</param>
    public static async Task<long> WriteAsync(string path, Stream content, CancellationToken cancellationToken, long? expectedLength = null)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = $"{full}.tmp-{Guid.NewGuid():N}";
        try
        {
            long written;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
            {
                await content.CopyToAsync(file, cancellationToken);
                written = file.Length;
            }
            if (expectedLength is { } expected && written != expected)
                throw new IOException($"received {written} bytes but expected {expected}; '{path}' was not written");
            File.Move(temporary, full, overwrite: true);
            return written;
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
