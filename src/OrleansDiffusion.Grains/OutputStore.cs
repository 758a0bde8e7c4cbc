using Microsoft.Extensions.Options;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Grains;

/// <summary>The directory finished images go to (a shared volume in Kubernetes). Paths are derived here from a
/// validated job id and can never leave the directory.</summary>
public sealed class OutputStore(IOptions<OutputStoreOptions> options)
{
    public string Directory { get; } = Path.GetFullPath(options.Value.Directory);

    public static string FileName(string jobId) => $"{CheckedId(jobId)}.png";

    public string PathOf(string jobId) => Inside(Directory, FileName(jobId));

    /// <summary><paramref name="name"/> under <paramref name="directory"/>; throws when it would resolve elsewhere.</summary>
    internal static string Inside(string directory, string name)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)) + Path.DirectorySeparatorChar;
        var path = Path.GetFullPath(Path.Combine(root, name));
        if (!path.StartsWith(root, StringComparison.Ordinal)) throw new InvalidJobException("job-id", $"'{name}' resolves outside {directory}");
        return path;
    }

    internal static string CheckedId(string jobId) =>
        JobIds.Check(jobId) is { } problem ? throw new InvalidJobException("job-id", $"'{jobId}' {problem}") : jobId;
}
