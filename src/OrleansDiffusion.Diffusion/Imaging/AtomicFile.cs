namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Writes files (and folders) so that readers see either nothing or all of it: the content goes to a
/// temporary entry beside the target and is renamed over it only when complete. A failure leaves the target as it
/// was and removes the temporary entry. Missing parent folders are created.</summary>
public static class AtomicFile
{
    private const int BufferSize = 1 << 16;

    /// <summary>Writes <paramref name="path"/> with what <paramref name="write"/> puts into the stream.</summary>
    /// <param name="expectedLength">when given, content of another length is an <see cref="IOException"/> and the path is left untouched.</param>
    /// <returns>the bytes written.</returns>
    public static long Write(string path, Action<Stream> write, long? expectedLength = null)
    {
        ArgumentNullException.ThrowIfNull(write);
        var (full, temporary) = Prepare(path);
        try
        {
            long written;
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize))
            {
                write(file);
                file.Flush(flushToDisk: true);
                written = file.Length;
            }
            Commit(path, full, temporary, written, expectedLength);
            return written;
        }
        catch
        {
            DeleteQuietly(temporary);
            throw;
        }
    }

    /// <summary>Copies <paramref name="content"/> to <paramref name="path"/> (e.g. a download).</summary>
    /// <param name="expectedLength">when given, content of another length is an <see cref="IOException"/> and the path is left untouched.</param>
    /// <returns>the bytes written.</returns>
    public static async Task<long> WriteAsync(string path, Stream content, CancellationToken cancellationToken, long? expectedLength = null)
    {
        ArgumentNullException.ThrowIfNull(content);
        var (full, temporary) = Prepare(path);
        try
        {
            long written;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true))
            {
                await content.CopyToAsync(file, cancellationToken);
                await file.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
                written = file.Length;
            }
            Commit(path, full, temporary, written, expectedLength);
            return written;
        }
        catch
        {
            DeleteQuietly(temporary);
            throw;
        }
    }

    /// <summary>Creates the folder <paramref name="path"/> (absent or empty) with what <paramref name="fill"/> writes
    /// into the temporary folder it is given; the folder appears complete or not at all.</summary>
    public static void WriteFolder(string path, Action<string> fill)
    {
        ArgumentNullException.ThrowIfNull(fill);
        var (full, temporary) = Prepare(path);
        try
        {
            Directory.CreateDirectory(temporary);
            fill(temporary);
            if (Directory.Exists(full)) Directory.Delete(full); // only an empty folder can be deleted this way
            Directory.Move(temporary, full);
        }
        catch
        {
            try
            {
                if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            throw;
        }
    }

    private static (string Full, string Temporary) Prepare(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return (full, Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}"));
    }

    private static void Commit(string path, string full, string temporary, long written, long? expectedLength)
    {
        if (expectedLength is { } expected && written != expected)
            throw new IOException($"received {written} bytes but expected {expected}; '{path}' was not written");
        File.Move(temporary, full, overwrite: true);
    }

    /// <summary>Removes the temporary file without masking the exception that caused the cleanup.</summary>
    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path); // no-op when it was never created
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
