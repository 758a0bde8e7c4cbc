using OrleansDiffusion.Diffusion.StableDiffusion;
using static TorchSharp.torch;

namespace OrleansDiffusion.Cli.Tests;

/// <summary><c>odiff model init / inspect</c> and <c>odiff generate --model</c> as real processes.</summary>
public class ModelCommandTests
{
    private static string[] Generate(string model, string output) =>
        ["generate", "--model", model, "--prompt", "a photo of a cat", "--negative-prompt", "blue", "--width", "64", "--height", "64",
            "--steps", "4", "--tile", "32", "--overlap", "16", "--sync", "gaussian", "--seed", "11", "--out", output, "--json"];

    [Fact]
    public async Task Init_then_inspect_then_generate_is_deterministic()
    {
        using var directory = new TempDirectory();
        var model = Path.Combine(directory.Path, "tiny");

        var init = await OdiffProcess.RunAsync(directory.Path, "model", "init", "--preset", "tiny", "--out", model);
        var inspect = await OdiffProcess.RunAsync(directory.Path, "model", "inspect", model, "--keys");
        var first = await OdiffProcess.RunAsync(directory.Path, Generate(model, "first.png"));
        var second = await OdiffProcess.RunAsync(directory.Path, Generate(model, "second.png"));

        Assert.True(init.ExitCode == 0, init.Stderr);
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Contains("UNet2DConditionModel", inspect.Stdout);
        Assert.Contains("loads: yes", inspect.Stdout);
        Assert.Contains("unet/down_blocks.0.attentions.0.proj_in.weight [32, 32, 1, 1] F32", inspect.Stdout);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Contains("\"tiles\":9", first.Stdout);
        Assert.Equal(File.ReadAllBytes(Path.Combine(directory.Path, "first.png")), File.ReadAllBytes(Path.Combine(directory.Path, "second.png")));
    }

    [Fact]
    public async Task The_sampler_defaults_to_the_one_the_folder_names_and_scheduler_overrides_it()
    {
        using var directory = new TempDirectory();
        var model = Path.Combine(directory.Path, "tiny");
        TinyModel.Write(model);
        var config = Path.Combine(model, "scheduler", "scheduler_config.json");
        var json = await File.ReadAllTextAsync(config);
        Assert.Contains("\"DDIMScheduler\"", json);
        await File.WriteAllTextAsync(config, json.Replace("\"DDIMScheduler\"", "\"EulerDiscreteScheduler\"", StringComparison.Ordinal));

        var named = await OdiffProcess.RunAsync(directory.Path, Generate(model, "named.png"));
        var overridden = await OdiffProcess.RunAsync(directory.Path, [.. Generate(model, "ddim.png"), "--scheduler", "ddim"]);

        Assert.True(named.ExitCode == 0, named.Stderr);
        Assert.True(overridden.ExitCode == 0, overridden.Stderr);
        Assert.Contains("\"scheduler\":\"euler\"", named.Stdout);
        Assert.Contains("\"scheduler\":\"ddim\"", overridden.Stdout);
    }

    [Fact]
    public async Task Init_refuses_a_non_empty_folder_and_unknown_presets()
    {
        using var directory = new TempDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory.Path, "keep.txt"), "x");

        var occupied = await OdiffProcess.RunAsync(directory.Path, "model", "init", "--out", directory.Path);
        var preset = await OdiffProcess.RunAsync(directory.Path, "model", "init", "--preset", "huge", "--out", Path.Combine(directory.Path, "m"));

        Assert.Equal(2, occupied.ExitCode);
        Assert.Contains("--out:", occupied.Stderr);
        Assert.Equal(2, preset.ExitCode);
        Assert.Contains("--preset: must be tiny", preset.Stderr);
        Assert.False(Directory.Exists(Path.Combine(directory.Path, "m")));
    }

    public static TheoryData<string, string> Breakages() => new()
    {
        { "missing-index", "model_index.json: file is missing" },
        { "missing-unet-weights", "diffusion_pytorch_model.safetensors: file is missing" },
        { "missing-tensor", "'conv_in.weight': missing tensor" },
        { "unexpected-tensor", "'conv_in.extra': unexpected tensor" },
        { "wrong-shape", "'conv_out.bias': shape [5] does not match the model's [4]" },
        { "truncated-header", "header length" },
        { "bad-config", "'block_out_channels': must be a list of integers" },
        { "missing-merges", "merges.txt: file is missing" },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public async Task Malformed_folder_exits_with_2_names_file_and_tensor_and_writes_nothing(string breakage, string expected)
    {
        using var directory = new TempDirectory();
        var model = Path.Combine(directory.Path, "tiny");
        TinyModel.Write(model);
        Break(model, breakage);
        var before = directory.Files();

        var generate = await OdiffProcess.RunAsync(directory.Path, Generate(model, "out.png"));
        var inspect = await OdiffProcess.RunAsync(directory.Path, "model", "inspect", model);

        Assert.Equal(2, generate.ExitCode);
        Assert.Contains(expected, generate.Stderr);
        Assert.Contains("--model:", generate.Stderr);
        Assert.Equal(before, directory.Files());
        Assert.Equal(2, inspect.ExitCode);
        Assert.Contains(expected, inspect.Stderr);
        Assert.Contains("(loads: no)", inspect.Stderr);
        Assert.Equal("", inspect.Stdout);
    }

    [Fact]
    public async Task Legacy_vae_attention_names_and_position_ids_load()
    {
        using var directory = new TempDirectory();
        var model = Path.Combine(directory.Path, "tiny");
        TinyModel.Write(model);
        Rewrite(Path.Combine(model, "vae", "diffusion_pytorch_model.safetensors"), tensors =>
        {
            foreach (var (current, legacy) in new[] { ("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn") })
                foreach (var side in new[] { "encoder", "decoder" })
                    foreach (var part in new[] { "weight", "bias" })
                    {
                        var name = $"{side}.mid_block.attentions.0.{current}.{part}";
                        var tensor = tensors[name];
                        tensors.Remove(name);
                        tensors[$"{side}.mid_block.attentions.0.{legacy}.{part}"] = part == "weight" ? tensor.reshape(tensor.shape[0], tensor.shape[1], 1, 1) : tensor;
                    }
        });
        Rewrite(Path.Combine(model, "text_encoder", "model.safetensors"), tensors =>
            tensors["text_model.embeddings.position_ids"] = arange(77, ScalarType.Float32).unsqueeze(0));

        var inspect = await OdiffProcess.RunAsync(directory.Path, "model", "inspect", model);

        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Contains("loads: yes", inspect.Stdout);
    }

    private static void Break(string model, string breakage)
    {
        var unet = Path.Combine(model, "unet", "diffusion_pytorch_model.safetensors");
        switch (breakage)
        {
            case "missing-index": File.Delete(Path.Combine(model, "model_index.json")); break;
            case "missing-unet-weights": File.Delete(unet); break;
            case "missing-tensor": Rewrite(unet, t => t.Remove("conv_in.weight")); break;
            case "unexpected-tensor": Rewrite(unet, t => t["conv_in.extra"] = zeros(2)); break;
            case "wrong-shape": Rewrite(unet, t => t["conv_out.bias"] = zeros(5)); break;
            case "truncated-header":
                var bytes = File.ReadAllBytes(unet);
                File.WriteAllBytes(unet, bytes[..64]);
                break;
            case "bad-config":
                var config = Path.Combine(model, "unet", "config.json");
                File.WriteAllText(config, File.ReadAllText(config).Replace("\"block_out_channels\": [", "\"block_out_channels\": [\"wide\", "));
                break;
            case "missing-merges": File.Delete(Path.Combine(model, "tokenizer", "merges.txt")); break;
            default: throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }
    }

    private static void Rewrite(string path, Action<Dictionary<string, Tensor>> change)
    {
        var file = SafeTensorsFile.Open(path);
        var tensors = file.Entries.Keys.ToDictionary(name => name, name => file.Load(name));
        change(tensors);
        SafeTensorsFile.Write(path, tensors);
    }
}
