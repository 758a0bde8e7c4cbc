using System.Text.Json;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli.Tests;

/// <summary><c>odiff bench sync</c> for real (small layout), <c>odiff bench cluster</c> for real (a small job on real
/// processes), and the input checks of <c>bench scaling</c> and <c>bench cluster</c> (before any process starts).</summary>
public class BenchCommandTests
{
    [Fact]
    public async Task Bench_sync_times_every_mode_and_reports_band_bytes_against_the_bound()
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "bench", "sync", "--canvas", "160", "--tile", "64", "--overlap", "16", "--repeats", "1", "--threads", "2");
        Assert.True(result.ExitCode == 0, result.Stderr);
        foreach (var mode in new[] { "none", "average", "gaussian", "attention", "halo" })
            Assert.Contains(mode, result.Stdout);
        Assert.Contains("ms/tile-step", result.Stdout);
        Assert.Contains("(1.000 without the", result.Stdout); // average without context: exactly the bound, plus the preview
        Assert.Contains("(2 threads)", result.Stdout);
        // Each mode's tile side too: what a worker spends per tile on its upload and on applying its reply.
        Assert.Equal(5, result.Stdout.Split('\n').Count(line => line.Contains("tile side  upload") && line.Contains("apply")));
    }

    [Fact]
    public async Task Bench_texture_scores_every_exemplar_at_every_scale()
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "bench", "texture", "--exemplars", "checkerboard,procedural:marble",
            "--size", "64", "--canvas", "96", "--steps", "6", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);

        var json = JsonDocument.Parse(result.Stdout.TrimEnd().Split('\n')[^1]).RootElement;
        Assert.Equal(96, json.GetProperty("canvas").GetInt32());
        var exemplars = json.GetProperty("exemplars").EnumerateArray().ToArray();
        Assert.Equal(["checkerboard", "procedural:marble"], exemplars.Select(e => e.GetProperty("name").GetString()));
        Assert.Equal([64, 128], exemplars.Select(e => e.GetProperty("exemplar_size").GetInt32()));
        foreach (var exemplar in exemplars)
        {
            var scales = exemplar.GetProperty("scales").EnumerateArray().ToArray();
            Assert.Equal([1, 0.5, 0.25], scales.Select(s => s.GetProperty("scale").GetDouble()));
            Assert.All(scales, s => Assert.True(s.GetProperty("completeness").GetDouble() >= 0 && s.GetProperty("coherence").GetDouble() >= 0));
        }
        // Even a short run reproduces the checkerboard far better than a flat image of its mean colour.
        Assert.InRange(exemplars[0].GetProperty("completeness").GetDouble(), 0, 0.5);
    }

    [Fact]
    public async Task Bench_texture_rejects_an_unknown_exemplar_before_running_anything()
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "bench", "texture", "--exemplars", "bricks,marble");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--exemplars: unknown exemplar 'marble'", result.Stderr);
    }

    [Theory]
    [InlineData("--threads", "-1", "--threads: must be 0 (the CPU quota) or positive, got -1")]
    [InlineData("--repeats", "0", "--repeats: must be positive, got 0")]
    public async Task Bench_sync_rejects_bad_input_before_measuring(string option, string value, string message)
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "bench", "sync", "--canvas", "160", "--tile", "64", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.DoesNotContain("tiles", result.Stdout);
    }

    [Theory]
    [InlineData("--workers", "2,1", "--workers: counts must ascend")]
    [InlineData("--workers", "0", "--workers: expected comma-separated worker counts")]
    [InlineData("--tile-ms", "0", "--tile-ms: must be positive")]
    [InlineData("--tiles", "0", "--tiles: must be positive")]
    public async Task Bench_scaling_rejects_bad_input_before_starting_anything(string option, string value, string message)
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "bench", "scaling", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
    }

    [Theory]
    [InlineData("exemplar")]
    [InlineData("tiny")]
    public async Task Bench_cluster_runs_a_job_on_real_processes_and_reports_what_every_process_used(string model)
    {
        using var directory = new TempDirectory();
        var output = Path.Combine(directory.Path, "bench.png");
        var result = await OdiffProcess.RunAsync(directory.Path, "bench", "cluster", "--size", "512", "--steps", "2", "--model", model,
            "--out", output, "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);

        var json = JsonDocument.Parse(result.Stdout.TrimEnd().Split('\n')[^1]).RootElement;
        Assert.Equal(512, json.GetProperty("size").GetInt32());
        Assert.Equal(model, json.GetProperty("model").GetString());
        Assert.Equal(2, json.GetProperty("steps").GetInt32());
        Assert.Equal(4, json.GetProperty("tiles").GetInt32()); // 2 × 2 windows of 384, overlap 64
        Assert.Equal(2, json.GetProperty("workers").GetInt32());
        Assert.Equal(2, json.GetProperty("silos").GetInt32()); // the tiles reached both workers
        Assert.Equal(512, json.GetProperty("image_width").GetInt32());
        Assert.Equal(512, json.GetProperty("image_height").GetInt32());
        Assert.Equal((512, 512, 8), PngReader.ReadHeader(output));
        Assert.Equal(new FileInfo(output).Length, json.GetProperty("output_bytes").GetInt64());
        foreach (var key in new[] { "wall_seconds", "engine_seconds", "denoise_seconds", "bytes_per_step" })
            Assert.True(json.GetProperty(key).GetDouble() > 0, key);
        Assert.True(json.GetProperty("wall_seconds").GetDouble() >= json.GetProperty("denoise_seconds").GetDouble());
        Assert.True(json.GetProperty("decode_seconds").GetDouble() >= 0);
        var bound = json.GetProperty("bytes_per_step_bound").GetInt64();
        var ratio = json.GetProperty("bytes_ratio");
        if (bound == 0) Assert.Equal(JsonValueKind.Null, ratio.ValueKind);
        else Assert.InRange(ratio.GetDouble() - (double)json.GetProperty("bytes_per_step").GetInt64() / bound, -5e-5, 5e-5); // rounded to 4 places

        var processes = json.GetProperty("processes").EnumerateArray().ToList();
        Assert.Equal(["redis", "coordinator", "worker", "worker", "client"], processes.Select(p => p.GetProperty("role").GetString()));
        Assert.All(processes, p =>
        {
            Assert.True(p.GetProperty("peak_rss_bytes").GetInt64() > 0, p.ToString());
            Assert.True(p.GetProperty("peak_rss_bytes").GetInt64() >= p.GetProperty("vm_hwm_bytes").GetInt64(), p.ToString());
        });
        Assert.Contains("peak RSS: redis", result.Stderr); // the human summary goes to stderr with --json
        Assert.Contains("step 2/2", result.Stderr);
    }

    [Theory]
    [InlineData("--size: must be a multiple of 8", "--size", "100")]
    [InlineData("--size: must be a multiple of 16 for this model", "--model", "tiny", "--size", "520")]
    [InlineData("--sync: halo needs a local denoiser", "--model", "tiny", "--sync", "halo")]
    [InlineData("--model: expected one of exemplar, tiny, got 'huge'", "--model", "huge")]
    [InlineData("--workers: must be between 1 and 16", "--workers", "0")]
    [InlineData("--steps: must be between 1 and", "--steps", "0")]
    [InlineData("--tile: must be at most the canvas's larger side (512)", "--size", "512", "--tile", "1024")]
    [InlineData("--timeout: must be positive", "--timeout", "0")]
    [InlineData("--out: must be a path ending in .png", "--out", "x.jpg")]
    public async Task Bench_cluster_rejects_bad_input_before_starting_anything(string message, params string[] args)
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, ["bench", "cluster", .. args]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.Equal("", result.Stdout);
        Assert.Empty(directory.Files());
    }
}
