using System.Diagnostics;

namespace OrleansDiffusion.Cli.Tests;

/// <summary>Runs the real <c>odiff</c> (built next to the tests) as a separate process.</summary>
internal static class OdiffProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The cluster verbs fall back to these; a developer's own settings must not leak into the tests.
        info.Environment.Remove("ODIFF_REDIS");
        info.Environment.Remove("ODIFF_GATEWAY");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "odiff.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A fresh empty directory, removed afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("odiff-cli-").FullName;

    public string[] Files() => Directory.GetFileSystemEntries(Path, "*", SearchOption.AllDirectories);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
