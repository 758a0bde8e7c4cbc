using System.Text.Json;
using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// Writes a complete diffusers-format folder with a tiny random configuration (same architecture as SD 1.x,
/// a few hundred thousand parameters, latent 4 channels at 1/8 size) and its own small BPE vocabulary: for
/// trying the pipeline and for tests. The same seed writes the same bytes.
/// </summary>
public static class TinyModel
{
    /// <summary>Words the tiny vocabulary merges whole; anything else falls back to single characters.</summary>
    private static readonly string[] Words =
        ["a", "an", "the", "of", "photo", "cat", "dog", "wood", "marble", "red", "blue", "green", "sky", "painting", "landscape", "texture"];

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Write(string folder, long seed = 0)
    {
        Directory.CreateDirectory(folder);
        foreach (var component in ModelIndex.Required) Directory.CreateDirectory(Path.Combine(folder, component));
        var (vocabulary, merges) = Vocabulary();

        Json(Path.Combine(folder, "model_index.json"), new Dictionary<string, object>
        {
            ["_class_name"] = "StableDiffusionPipeline",
            ["_diffusers_version"] = "0.30.0",
            ["scheduler"] = new[] { "diffusers", "DDIMScheduler" },
            ["text_encoder"] = new[] { "transformers", "CLIPTextModel" },
            ["tokenizer"] = new[] { "transformers", "CLIPTokenizer" },
            ["unet"] = new[] { "diffusers", "UNet2DConditionModel" },
            ["vae"] = new[] { "diffusers", "AutoencoderKL" },
        });
        Json(Path.Combine(folder, "unet", "config.json"), new Dictionary<string, object>
        {
            ["_class_name"] = "UNet2DConditionModel",
            ["act_fn"] = "silu",
            ["attention_head_dim"] = 4,
            ["block_out_channels"] = new[] { 32, 64 },
            ["cross_attention_dim"] = 32,
            ["down_block_types"] = new[] { "CrossAttnDownBlock2D", "DownBlock2D" },
            ["flip_sin_to_cos"] = true,
            ["freq_shift"] = 0,
            ["in_channels"] = 4,
            ["layers_per_block"] = 1,
            ["norm_eps"] = 1e-5,
            ["norm_num_groups"] = 8,
            ["out_channels"] = 4,
            ["sample_size"] = 8,
            ["up_block_types"] = new[] { "UpBlock2D", "CrossAttnUpBlock2D" },
        });
        Json(Path.Combine(folder, "vae", "config.json"), new Dictionary<string, object>
        {
            ["_class_name"] = "AutoencoderKL",
            ["act_fn"] = "silu",
            ["block_out_channels"] = new[] { 8, 8, 16, 16 },
            ["down_block_types"] = Enumerable.Repeat("DownEncoderBlock2D", 4).ToArray(),
            ["in_channels"] = 3,
            ["latent_channels"] = 4,
            ["layers_per_block"] = 1,
            ["norm_num_groups"] = 4,
            ["out_channels"] = 3,
            ["sample_size"] = 64,
            ["scaling_factor"] = 0.18215,
            ["up_block_types"] = Enumerable.Repeat("UpDecoderBlock2D", 4).ToArray(),
        });
        Json(Path.Combine(folder, "text_encoder", "config.json"), new Dictionary<string, object>
        {
            ["architectures"] = new[] { "CLIPTextModel" },
            ["hidden_act"] = "quick_gelu",
            ["hidden_size"] = 32,
            ["intermediate_size"] = 64,
            ["layer_norm_eps"] = 1e-5,
            ["max_position_embeddings"] = 77,
            ["model_type"] = "clip_text_model",
            ["num_attention_heads"] = 4,
            ["num_hidden_layers"] = 2,
            ["vocab_size"] = vocabulary.Count,
        });
        Json(Path.Combine(folder, "scheduler", "scheduler_config.json"), new Dictionary<string, object>
        {
            ["_class_name"] = "DDIMScheduler",
            ["beta_end"] = 0.012,
            ["beta_schedule"] = "scaled_linear",
            ["beta_start"] = 0.00085,
            ["clip_sample"] = false,
            ["num_train_timesteps"] = 1000,
            ["prediction_type"] = "epsilon",
            ["set_alpha_to_one"] = false,
            ["steps_offset"] = 1,
            ["timestep_spacing"] = "leading",
        });
        Json(Path.Combine(folder, "tokenizer", "vocab.json"), vocabulary);
        File.WriteAllLines(Path.Combine(folder, "tokenizer", "merges.txt"), ["#version: 0.2", .. merges]);
        Json(Path.Combine(folder, "tokenizer", "tokenizer_config.json"), new Dictionary<string, object>
        {
            ["model_max_length"] = 77,
            ["pad_token"] = ClipTokenizer.EndOfText,
            ["bos_token"] = ClipTokenizer.StartOfText,
            ["eos_token"] = ClipTokenizer.EndOfText,
            ["unk_token"] = ClipTokenizer.EndOfText,
        });

        var unetConfig = UNetConfig.Read(Path.Combine(folder, "unet", "config.json"));
        var vaeConfig = VaeConfig.Read(Path.Combine(folder, "vae", "config.json"));
        var textConfig = ClipTextConfig.Read(Path.Combine(folder, "text_encoder", "config.json"));
        random.manual_seed(seed);
        using (var unet = new UNet2DConditionModel(unetConfig)) Save(unet, Path.Combine(folder, "unet", "diffusion_pytorch_model.safetensors"));
        using (var vae = new AutoencoderKL(vaeConfig)) Save(vae, Path.Combine(folder, "vae", "diffusion_pytorch_model.safetensors"));
        using (var text = new ClipTextModel(textConfig)) Save(text, Path.Combine(folder, "text_encoder", "model.safetensors"));
    }

    /// <summary>The tiny BPE: printable ASCII characters (plain and end-of-word), merges spelling <see cref="Words"/>, CLIP's two special tokens.</summary>
    internal static (Dictionary<string, int> Vocabulary, List<string> Merges) Vocabulary()
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        void Add(string token) => vocabulary.TryAdd(token, vocabulary.Count);
        for (var c = '!'; c <= '~'; c++) Add(c.ToString());
        for (var c = '!'; c <= '~'; c++) Add(c + "</w>");
        var merges = new List<string>();
        foreach (var word in Words)
        {
            var symbols = word.Select((c, i) => i == word.Length - 1 ? c + "</w>" : c.ToString()).ToList();
            while (symbols.Count > 1)
            {
                var merge = $"{symbols[0]} {symbols[1]}";
                if (!merges.Contains(merge)) merges.Add(merge);
                symbols[0] += symbols[1];
                symbols.RemoveAt(1);
                Add(symbols[0]);
            }
        }
        Add(ClipTokenizer.StartOfText);
        Add(ClipTokenizer.EndOfText);
        return (vocabulary, merges);
    }

    private static void Json(string path, object value) => File.WriteAllText(path, JsonSerializer.Serialize(value, Indented) + "\n");

    private static void Save(nn.Module module, string path)
    {
        var tensors = module.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        SafeTensorsFile.Write(path, tensors);
    }
}
