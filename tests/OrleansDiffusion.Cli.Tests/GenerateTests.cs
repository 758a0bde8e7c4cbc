using System.Text.Json;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Cli.Tests;

/// <summary>The real <c>odiff</c> process end to end.</summary>
public class GenerateTests
{
    [Fact]
    public async Task Generate_writes_the_png_and_a_json_summary_as_the_last_stdout_line()
    {
        using var directory = new TempDirectory();
        var output = Path.Combine(directory.Path, "nested", "wood.png");
        var result = await OdiffProcess.RunAsync(directory.Path, "generate", "--prompt", "golden wood", "--width", "160", "--height", "128",
            "--steps", "6", "--tile", "64", "--overlap", "16", "--seed", "9", "--out", output, "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        var summary = JsonDocument.Parse(result.Stdout.TrimEnd().Split('\n')[^1]).RootElement;
        Assert.Equal(output, summary.GetProperty("output").GetString());
        Assert.Equal(160, summary.GetProperty("width").GetInt32());
        Assert.Equal(128, summary.GetProperty("height").GetInt32());
        Assert.Equal(9, summary.GetProperty("tiles").GetInt32()); // 3 columns × 3 rows
        Assert.Equal(1, summary.GetProperty("silos").GetInt32());
        Assert.Equal(6, summary.GetProperty("steps").GetInt32());
        Assert.Equal("attention", summary.GetProperty("sync").GetString());
        Assert.Equal(9, summary.GetProperty("seed").GetInt64());
        foreach (var key in new[] { "seconds", "denoise_seconds", "sync_seconds", "bytes_per_step" })
            Assert.True(summary.GetProperty(key).GetDouble() > 0, key);
        Assert.True(summary.GetProperty("seconds").GetDouble() >= summary.GetProperty("denoise_seconds").GetDouble());
        Assert.True(summary.GetProperty("bytes_per_step_bound").GetInt64() >= 0);
        Assert.Equal(0, summary.GetProperty("decode_seconds").GetDouble()); // a pixel canvas has nothing to decode

        Assert.Equal((160, 128, 8), PngReader.ReadHeader(output));
        Assert.Equal(SeamScore.FromPng(output), summary.GetProperty("seam_score").GetDouble(), 3);
        var parameters = PngReader.ReadText(output, "parameters");
        Assert.NotNull(parameters);
        Assert.StartsWith("golden wood\n", parameters);
        Assert.Contains("Seed: 9", parameters);
        Assert.Contains("Model: exemplar:wood", parameters);
        Assert.Contains("step 6/6", result.Stderr); // progress lines when stderr is not a terminal
    }

    [Fact]
    public async Task Sixteen_bit_output_and_the_same_seed_give_the_same_pixels()
    {
        using var directory = new TempDirectory();
        string[] common = ["generate", "--prompt", "clouds", "--width", "96", "--height", "96", "--steps", "4", "--tile", "64", "--overlap", "16"];
        var a = await OdiffProcess.RunAsync(directory.Path, [.. common, "--out", "a.png"]);
        var b = await OdiffProcess.RunAsync(directory.Path, [.. common, "--out", "b.png"]);
        var deep = await OdiffProcess.RunAsync(directory.Path, [.. common, "--out", "deep.png", "--bit-depth", "16"]);
        Assert.True(a.ExitCode == 0 && b.ExitCode == 0 && deep.ExitCode == 0, a.Stderr + b.Stderr + deep.Stderr);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(directory.Path, "a.png")), await File.ReadAllBytesAsync(Path.Combine(directory.Path, "b.png")));
        Assert.Equal(16, PngReader.ReadHeader(Path.Combine(directory.Path, "deep.png")).BitDepth);
    }

    [Fact]
    public async Task Bad_input_in_a_real_process_exits_with_2()
    {
        using var directory = new TempDirectory();
        var result = await OdiffProcess.RunAsync(directory.Path, "generate", "--width", "100", "--out", "x.png");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--width", result.Stderr);
        Assert.Empty(directory.Files());
    }
}
