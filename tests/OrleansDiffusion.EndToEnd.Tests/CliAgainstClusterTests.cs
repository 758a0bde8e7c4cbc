using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using StbImageSharp;
using Xunit.Abstractions;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>The <c>odiff</c> cluster verbs as separate client processes against the two-silo Redis cluster.</summary>
[Collection(MultiProcessCluster.Name)]
public sealed class CliAgainstClusterTests(RedisAndSilosFixture cluster, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);
    private static readonly string[] Job = ["--prompt", "wood", "--width", "128", "--height", "128", "--steps", "6", "--tile", "64", "--overlap", "16"];
    private readonly string _folder = Directory.CreateTempSubdirectory("odiff-e2e-cli-").FullName;

    [Fact]
    public async Task Submit_watch_and_fetch_give_the_image_of_generate_with_one_silo_and_jobs_lists_it_as_completed()
    {
        var clock = Stopwatch.StartNew();
        var referencePath = Path.Combine(_folder, "reference.png");
        using (var generate = await OdiffAsync(["generate", .. Job, "--silos", "1", "--out", referencePath]))
            Assert.True(generate.ExitCode == 0, generate.Tail());
        var generateSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        using var submit = await OdiffAsync(["submit", .. Job, .. cluster.ConnectionArguments, "--wait", "--json"]);
        Assert.True(submit.ExitCode == 0, submit.Tail() + Environment.NewLine + cluster.Diagnostics());
        var lines = Lines(submit.Stdout);
        var jobId = lines[0];
        Assert.Matches(@"^\d{8}-\d{6}-[0-9a-z]{6}$", jobId);
        output.WriteLine(lines[^1]);
        using (var final = JsonDocument.Parse(lines[^1]))
        {
            Assert.Equal(jobId, final.RootElement.GetProperty("job_id").GetString());
            Assert.Equal("completed", final.RootElement.GetProperty("state").GetString());
            Assert.Equal(6, final.RootElement.GetProperty("step").GetInt32());
            Assert.Equal(9, final.RootElement.GetProperty("tiles").GetInt32());
        }
        // Progress on stderr (redirected: one line per new status), steps never going back, ending at the last.
        var steps = Regex.Matches(submit.Stderr, @"step (\d+)/6").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.True(steps.Count >= 2, submit.Stderr);
        Assert.Equal(steps.Order(), steps);
        Assert.Equal(6, steps[^1]);
        var submitSeconds = clock.Elapsed.TotalSeconds;

        using (var watch = await OdiffAsync(["watch", jobId, .. cluster.ConnectionArguments, "--json"]))
        {
            Assert.True(watch.ExitCode == 0, watch.Tail());
            using var final = JsonDocument.Parse(Lines(watch.Stdout)[^1]);
            Assert.Equal("completed", final.RootElement.GetProperty("state").GetString());
        }

        clock.Restart();
        var fetchedPath = Path.Combine(_folder, "nested", "fetched.png");
        using (var fetch = await OdiffAsync(["fetch", jobId, "--out", fetchedPath, .. cluster.ConnectionArguments]))
            Assert.True(fetch.ExitCode == 0, fetch.Tail());
        var fetchSeconds = clock.Elapsed.TotalSeconds;
        var fetched = await File.ReadAllBytesAsync(fetchedPath);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(cluster.OutputDirectory, $"{jobId}.png")), fetched);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(fetchedPath)!, "*.tmp-*"));
        var reference = await File.ReadAllBytesAsync(referencePath);
        AssertSamePixels(reference, fetched);
        Assert.Equal(reference, fetched);

        // The connection from the environment this time.
        using (var jobs = await OdiffAsync(["jobs", "--cluster-id", cluster.ClusterId, "--json"], new Dictionary<string, string> { ["ODIFF_REDIS"] = cluster.Redis }))
        {
            Assert.True(jobs.ExitCode == 0, jobs.Tail());
            using var list = JsonDocument.Parse(Lines(jobs.Stdout)[^1]);
            var entry = Assert.Single(list.RootElement.EnumerateArray(), j => j.GetProperty("job_id").GetString() == jobId);
            Assert.Equal("completed", entry.GetProperty("state").GetString());
        }
        using (var table = await OdiffAsync(["jobs", .. cluster.ConnectionArguments]))
        {
            Assert.True(table.ExitCode == 0, table.Tail());
            Assert.Contains(Lines(table.Stdout), line => line.StartsWith(jobId, StringComparison.Ordinal) && line.Contains("completed", StringComparison.Ordinal));
        }
        output.WriteLine($"cluster up in {cluster.StartupTime.TotalSeconds:F1} s; generate --silos 1 {generateSeconds:F1} s; " +
            $"submit --wait {submitSeconds:F1} s; fetch {fetchSeconds:F1} s ({fetched.Length} bytes)");
    }

    [Fact]
    public async Task An_exemplar_that_exists_only_on_the_client_travels_with_the_job()
    {
        // A PNG the silos never see: it lives in a client folder removed right after submit.
        var exemplarFolder = Directory.CreateTempSubdirectory("odiff-client-only-").FullName;
        var exemplar = Path.Combine(exemplarFolder, "own.png");
        using (var made = await OdiffAsync(["generate", "--prompt", "red bricks", "--width", "96", "--height", "96", "--tile", "64", "--overlap", "16", "--steps", "2", "--out", exemplar]))
            Assert.True(made.ExitCode == 0, made.Tail());
        using var submit = await OdiffAsync(["submit", .. Job, "--exemplar", exemplar, .. cluster.ConnectionArguments]);
        Assert.True(submit.ExitCode == 0, submit.Tail());
        Directory.Delete(exemplarFolder, recursive: true);
        var jobId = Lines(submit.Stdout)[0];
        using var watch = await OdiffAsync(["watch", jobId, .. cluster.ConnectionArguments, "--json"]);
        Assert.True(watch.ExitCode == 0, watch.Tail() + Environment.NewLine + cluster.Diagnostics());
        using var final = JsonDocument.Parse(Lines(watch.Stdout)[^1]);
        Assert.Equal("completed", final.RootElement.GetProperty("state").GetString());
        // The PNG's uncompressed parameters text names the exemplar the job carried.
        var png = System.Text.Encoding.Latin1.GetString(await File.ReadAllBytesAsync(Path.Combine(cluster.OutputDirectory, $"{jobId}.png")));
        Assert.Contains("exemplar:own", png);
    }

    [Fact]
    public async Task Unknown_jobs_and_unreachable_clusters_exit_1_and_invalid_input_exits_2_naming_the_option()
    {
        foreach (var verb in new[] { "watch", "cancel", "fetch" })
        {
            using var run = await OdiffAsync([verb, "no-such-job", .. cluster.ConnectionArguments]);
            Assert.True(run.ExitCode == 1, run.Tail());
            Assert.Contains("No job 'no-such-job'", run.Stderr);
        }
        Assert.False(File.Exists(Path.Combine(_folder, "no-such-job.png")));

        var nobody = BuiltPrograms.FreePort();
        using (var unreachable = await OdiffAsync(["jobs", "--gateway", $"127.0.0.1:{nobody}", "--connect-timeout", "3"]))
        {
            Assert.True(unreachable.ExitCode == 1, unreachable.Tail());
            Assert.Contains("Cannot connect", unreachable.Stderr);
        }

        using (var invalid = await OdiffAsync(["submit", "--width", "100", "--steps", "0", .. cluster.ConnectionArguments]))
        {
            Assert.True(invalid.ExitCode == 2, invalid.Tail());
            Assert.Contains("--width: must be a multiple of 8", invalid.Stderr);
            Assert.Contains($"--steps: must be between 1 and {JobSpecValidator.MaxSteps}", invalid.Stderr);
        }
        using (var both = await OdiffAsync(["jobs", "--redis", cluster.Redis, "--gateway", "127.0.0.1:1"]))
        {
            Assert.True(both.ExitCode == 2, both.Tail());
            Assert.Contains("--redis", both.Stderr);
        }
    }

    public void Dispose()
    {
        output.WriteLine(cluster.Diagnostics());
        Directory.Delete(_folder, recursive: true);
    }

    internal static void AssertSamePixels(byte[] expected, byte[] actual)
    {
        var a = ImageResult.FromMemory(expected, ColorComponents.RedGreenBlueAlpha);
        var b = ImageResult.FromMemory(actual, ColorComponents.RedGreenBlueAlpha);
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        var differing = a.Data.Zip(b.Data).Count(p => p.First != p.Second);
        var largest = a.Data.Zip(b.Data).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(differing == 0, $"the images' pixels differ: {differing} of {a.Data.Length} channel values, by up to {largest}");
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private async Task<ChildProcess> OdiffAsync(string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var run = await ChildProcess.RunOdiffAsync(_folder, Timeout, arguments, environment);
        var variables = string.Concat((environment ?? new Dictionary<string, string>()).Select(v => $"{v.Key}={v.Value} "));
        output.WriteLine($"$ {variables}odiff {string.Join(' ', arguments)} → exit {run.ExitCode}");
        return run;
    }
}
