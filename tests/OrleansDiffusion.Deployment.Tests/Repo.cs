namespace OrleansDiffusion.Deployment.Tests;

/// <summary>Paths in the repository this test assembly was built from.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(PathOf(parts));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansDiffusion.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No OrleansDiffusion.sln above {AppContext.BaseDirectory}.");
    }
}
