using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>Renders kustomizations with the real <c>kubectl kustomize</c>; each directory once per test run.</summary>
internal static class Kustomize
{
    /// <summary>The overlays a user deploys (directories under k8s/overlays).</summary>
    public static readonly string[] Overlays = ["gpu", "cpu-dev"];

    private static readonly ConcurrentDictionary<string, Lazy<Manifest>> Rendered = new();

    public static Manifest Overlay(string name) => Render(Path.Combine("k8s", "overlays", name));

    public static Manifest Base() => Render(Path.Combine("k8s", "base"));

    private static Manifest Render(string relativeDir) =>
        Rendered.GetOrAdd(relativeDir, dir => new Lazy<Manifest>(() => Manifest.Parse(Run(dir)))).Value;

    private static string Run(string relativeDir)
    {
        var start = new ProcessStartInfo("kubectl")
        {
            ArgumentList = { "kustomize", Repo.PathOf(relativeDir) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("kubectl did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                "These tests render k8s/ with the real `kubectl kustomize` and need kubectl (1.27 or newer, " +
                $"with kustomize v5) on PATH; it was not found ({e.Message}). Install kubectl and run again.", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"kubectl kustomize {relativeDir} ran for more than 60 s.");
            }

            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"kubectl kustomize {relativeDir} failed (exit {process.ExitCode}): {stderr.Result}");
            }

            return stdout.Result;
        }
    }
}
