using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Cli;

/// <summary>Checks an output path before any work starts, so that a long job never fails at its last second: the
/// path is well formed, not a folder, not inside a file, not under a kernel file system, and the folder it will be
/// written in accepts files (probed by creating and deleting a temporary file). Nothing is left behind.</summary>
internal static class OutputPath
{
    private static readonly string[] KernelFileSystems = ["/proc", "/sys"];

    /// <summary>Why <paramref name="path"/> cannot become the output file, or null when it can.</summary>
    public static ValidationError? CheckFile(string option, string path, string extension)
    {
        if (string.IsNullOrWhiteSpace(path) || !path.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
            return new(option, $"must be a path ending in {extension}, got '{CliText.Printable(path)}'");
        if (Common(option, path, out var full) is { } problem) return problem;
        if (Directory.Exists(full)) return new(option, $"'{path}' is a directory");
        if (File.Exists(full) && !FileKind.IsRegularFile(full)) return new(option, $"'{path}' exists and is not a regular file");
        return CheckWritableFolder(option, path, Path.GetDirectoryName(full)!);
    }

    /// <summary>Why <paramref name="path"/> cannot become a new folder (absent or empty), or null when it can.</summary>
    public static ValidationError? CheckNewFolder(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path)) return new(option, "must be a folder path");
        if (Common(option, path, out var full) is { } problem) return problem;
        if (File.Exists(full)) return new(option, $"'{path}' is a file");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any()) return new(option, $"'{path}' exists and is not empty");
        return CheckWritableFolder(option, path, Path.GetDirectoryName(full) ?? full);
    }

    private static ValidationError? Common(string option, string path, out string full)
    {
        full = "";
        if (path.Any(char.IsControl)) return new(option, $"'{CliText.Printable(path)}' contains control characters");
        full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        foreach (var kernel in KernelFileSystems)
            if (full == kernel || full.StartsWith(kernel + "/", StringComparison.Ordinal))
                return new(option, $"'{path}' is under {kernel}, which holds kernel state, not files");
        return null;
    }

    /// <summary>The nearest existing folder at or above <paramref name="folder"/> (missing ones are created later) must be a
    /// folder and accept a new file.</summary>
    private static ValidationError? CheckWritableFolder(string option, string path, string folder)
    {
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) return new(option, $"'{path}' is inside a file ('{existing}' is not a folder)");
            existing = Path.GetDirectoryName(existing);
            if (existing is null) return new(option, $"'{path}' has no existing folder above it");
        }
        var probe = Path.Combine(existing, $".odiff-probe-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(option, $"cannot write in folder '{existing}' ({CliText.FirstLine(e.Message)})");
        }
        finally
        {
            File.Delete(probe);
        }
    }
}
