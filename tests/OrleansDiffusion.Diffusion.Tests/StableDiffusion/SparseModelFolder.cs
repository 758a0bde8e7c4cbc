using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using OrleansDiffusion.Diffusion.StableDiffusion;
using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>
/// An SD 1.5-shaped diffusers folder whose weight files are written sparse (real headers and sizes, zero data that
/// takes no disk space), laid out as real uploads are: I64 <c>text_model.embeddings.position_ids</c> (with its real
/// values), legacy VAE mid-block attention names stored as 1×1 convs, and optionally a sharded UNet.
/// </summary>
internal static class SparseModelFolder
{
    public static void WriteSd15(string folder, bool shardUnet = false)
    {
        foreach (var component in ModelIndex.Required) Directory.CreateDirectory(Path.Combine(folder, component));
        File.WriteAllText(Path.Combine(folder, "model_index.json"), """
            {"_class_name": "StableDiffusionPipeline", "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
            """);
        File.WriteAllText(Path.Combine(folder, "unet", "config.json"), Sd15Configs.UNet);
        File.WriteAllText(Path.Combine(folder, "vae", "config.json"), Sd15Configs.Vae);
        File.WriteAllText(Path.Combine(folder, "text_encoder", "config.json"), Sd15Configs.TextEncoder);
        File.WriteAllText(Path.Combine(folder, "scheduler", "scheduler_config.json"), """
            {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
             "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}
            """);
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(TestDataFiles.ClipFolder, file), Path.Combine(folder, "tokenizer", file));

        var meta = new Device(DeviceType.META);
        using (var unet = new UNet2DConditionModel(Sd15Configs.Read(Sd15Configs.UNet, UNetConfig.Read), meta))
        {
            var entries = Entries(unet).ToList();
            if (!shardUnet) Write(Path.Combine(folder, "unet", "diffusion_pytorch_model.safetensors"), entries);
            else
            {
                var shards = new[] { "diffusion_pytorch_model-00001-of-00002.safetensors", "diffusion_pytorch_model-00002-of-00002.safetensors" };
                var half = entries.Count / 2;
                Write(Path.Combine(folder, "unet", shards[0]), entries[..half]);
                Write(Path.Combine(folder, "unet", shards[1]), entries[half..]);
                var map = entries.Select((e, i) => (e.Name, Shard: shards[i < half ? 0 : 1])).ToDictionary(p => p.Name, p => p.Shard);
                File.WriteAllText(Path.Combine(folder, "unet", "diffusion_pytorch_model.safetensors.index.json"),
                    JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
            }
        }
        using (var vae = new AutoencoderKL(Sd15Configs.Read(Sd15Configs.Vae, VaeConfig.Read), meta))
        {
            var legacy = Entries(vae).Select(e => e.Name.Contains(".mid_block.attentions.0.to_", StringComparison.Ordinal) && e.Shape.Length == 2
                ? e with { Name = LegacyName(e.Name), Shape = [.. e.Shape, 1, 1] }
                : e.Name.Contains(".mid_block.attentions.0.to_", StringComparison.Ordinal) ? e with { Name = LegacyName(e.Name) } : e);
            Write(Path.Combine(folder, "vae", "diffusion_pytorch_model.safetensors"), legacy);
        }
        using (var text = new ClipTextModel(Sd15Configs.Read(Sd15Configs.TextEncoder, ClipTextConfig.Read), meta))
        {
            var positions = new byte[77 * 8];
            for (var i = 0; i < 77; i++) BinaryPrimitives.WriteInt64LittleEndian(positions.AsSpan(i * 8), i);
            Write(Path.Combine(folder, "text_encoder", "model.safetensors"),
                [.. Entries(text), new Entry("text_model.embeddings.position_ids", "I64", [1, 77], positions)]);
        }
    }

    internal sealed record Entry(string Name, string DType, long[] Shape, byte[]? Data = null);

    private static IEnumerable<Entry> Entries(nn.Module module) =>
        module.named_parameters().Select(p => new Entry(p.name, "F32", p.parameter.shape));

    private static string LegacyName(string name) => name
        .Replace(".to_q.", ".query.", StringComparison.Ordinal).Replace(".to_k.", ".key.", StringComparison.Ordinal)
        .Replace(".to_v.", ".value.", StringComparison.Ordinal).Replace(".to_out.0.", ".proj_attn.", StringComparison.Ordinal);

    /// <summary>A safetensors file whose data is a hole except where an entry brings its own bytes.</summary>
    internal static void Write(string path, IEnumerable<Entry> entries)
    {
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        var placed = new List<(long Offset, byte[] Data)>();
        long offset = 0;
        foreach (var entry in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var size = entry.Shape.Aggregate(1L, (a, b) => a * b) * (entry.DType == "I64" ? 8 : 4);
            header[entry.Name] = new { dtype = entry.DType, shape = entry.Shape, data_offsets = new[] { offset, offset + size } };
            if (entry.Data is { } data) placed.Add((offset, data));
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var padded = (json.Length + 7) / 8 * 8;
        using var stream = File.Create(path);
        var prefix = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, padded);
        stream.Write(prefix);
        stream.Write(json);
        for (var i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        stream.SetLength(8 + padded + offset);
        foreach (var (at, data) in placed)
        {
            stream.Position = 8 + padded + at;
            stream.Write(data);
        }
    }
}
