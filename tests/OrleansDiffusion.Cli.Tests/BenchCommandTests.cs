namespace OrleansDiffusion.Cli.Tests;

/// <summary><c>odiff bench sync</c> for real (small layout), and <c>odiff bench scaling</c>'s input checks (before any process starts).</summary>
public class BenchCommandTests
{
    [Fact]
    public async Task Bench_sync_times_every_mode_and_reports_band_bytes_against_the_bound()
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "bench", "sync", "--canvas", "160", "--tile", "64", "--overlap", "16", "--repeats", "1");
        Assert.True(result.ExitCode == 0, result.Stderr);
        foreach (var mode in new[] { "none", "average", "gaussian", "attention", "halo" })
            Assert.Contains(mode, result.Stdout);
        Assert.Contains("ms/tile-step", result.Stdout);
        Assert.Contains("ratio 1.000", result.Stdout); // average without context: exactly the bound
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
}
