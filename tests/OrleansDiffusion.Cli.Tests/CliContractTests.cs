using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace OrleansDiffusion.Cli.Tests;

/// <summary>The channels and spellings scripts rely on: stdout carries only results, help spells enums as the parser
/// accepts them, and --verbose is the only way to a stack trace.</summary>
public class CliContractTests
{
    [Fact]
    public async Task Embedded_cluster_with_json_prints_only_the_json_line_on_stdout()
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "generate", "--silos", "2", "--json", "--width", "64", "--height", "64",
            "--tile", "32", "--overlap", "8", "--steps", "2", "--out", "two.png");

        Assert.True(result.ExitCode == 0, result.Stderr);
        var line = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2, JsonDocument.Parse(line).RootElement.GetProperty("silos").GetInt32());
        Assert.DoesNotContain("Watchdog", result.Stderr);
        Assert.DoesNotContain("ServerGC", result.Stderr);
    }

    [Fact]
    public async Task A_canvas_smaller_than_the_default_tile_runs_as_one_tile_when_no_tile_is_given()
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "generate", "--json", "--width", "64", "--height", "48", "--steps", "1", "--out", "small.png");

        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout.Trim()).RootElement;
        Assert.Equal(1, json.GetProperty("tiles").GetInt32());
        Assert.Equal(64, json.GetProperty("tile").GetInt32());
        Assert.Equal(32, json.GetProperty("overlap").GetInt32()); // 64 does not fit in the tile: half of it
    }

    [Fact]
    public async Task Help_lists_enum_values_in_the_spellings_the_parser_accepts()
    {
        using var directory = new TempDirectory();
        var help = await OdiffProcess.RunAsync(directory.Path, "generate", "--help");
        var accepted = await OdiffProcess.RunAsync(directory.Path, "generate", "--sync", "halo", "--scheduler", "euler", "--width", "100");

        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--sync <none|average|gaussian|attention|halo>", help.Stdout);
        Assert.Contains("--scheduler <ddim|euler>", help.Stdout);
        Assert.Contains("--verbose", help.Stdout);
        Assert.Equal(2, accepted.ExitCode);
        Assert.Contains("--width: must be a multiple of 8", accepted.Stderr); // the enums parsed; only the width is wrong
        Assert.DoesNotContain("--sync", accepted.Stderr);
    }

    [Fact]
    public async Task Verbose_adds_the_stack_trace_to_an_unexpected_error()
    {
        using var directory = new TempDirectory();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // closed: nothing answers there

        var result = await OdiffProcess.RunAsync(directory.Path, "jobs", "--gateway", $"127.0.0.1:{port}", "--connect-timeout", "1", "--verbose");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"error: Cannot connect to the OrleansDiffusion cluster 'odiff' via gateway 127.0.0.1:{port}", result.Stderr);
        Assert.Contains("ClusterUnavailableException", result.Stderr);
        Assert.Contains("   at ", result.Stderr);
        Assert.Equal("", result.Stdout);
    }
}
