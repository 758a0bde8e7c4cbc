using System.Buffers.Binary;
using OrleansDiffusion.Diffusion.StableDiffusion;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>Folders laid out as real uploads: I64 position ids, legacy VAE names, sharded checkpoints.</summary>
public sealed class ModelFolderLoadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("odiff-load-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sd15_shaped_folder_with_int64_position_ids_legacy_vae_names_and_shards_opens_strictly(bool sharded)
    {
        SparseModelFolder.WriteSd15(_dir, shardUnet: sharded);

        var folder = DiffusersFolder.Open(_dir);

        Assert.Equal([859_520_964L, 83_653_863, 123_060_480], folder.Weights.Select(w => w.Parameters));
        Assert.All(folder.Weights, w => Assert.Equal(["F32"], w.DTypes));
        Assert.Equal(sharded, folder.Weights[0].File.IsSharded);
        Assert.Equal(sharded ? 2 : 1, folder.Weights[0].File.Files.Count);
        Assert.Equal(686, folder.Weights[0].File.Entries.Count);
        Assert.Equal(248, folder.Weights[1].File.Entries.Count);
        Assert.Equal(197, folder.Weights[2].File.Entries.Count); // 196 weights + position_ids
    }

    [Fact]
    public void Position_ids_with_wrong_values_are_refused_naming_file_and_tensor()
    {
        var tiny = Path.Combine(_dir, "tiny");
        TinyModel.Write(tiny);
        var path = Path.Combine(tiny, "text_encoder", "model.safetensors");
        var ids = new byte[77 * 8];
        for (var i = 0; i < 77; i++) BinaryPrimitives.WriteInt64LittleEndian(ids.AsSpan(i * 8), i == 5 ? 7 : i);
        Rewrite(path, ("text_model.embeddings.position_ids", "I64", [1, 77], ids));

        var error = Assert.Throws<ModelFormatException>(() => DiffusersFolder.Open(tiny));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("text_model.embeddings.position_ids", error.Message, StringComparison.Ordinal);
        Assert.Contains("position id 5 is 7", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Int64_position_ids_load_and_are_not_used_as_weights()
    {
        var tiny = Path.Combine(_dir, "tiny");
        TinyModel.Write(tiny);
        using var before = DiffusersFolder.Open(tiny).Load();
        var ids = new byte[77 * 8];
        for (var i = 0; i < 77; i++) BinaryPrimitives.WriteInt64LittleEndian(ids.AsSpan(i * 8), i);
        Rewrite(Path.Combine(tiny, "text_encoder", "model.safetensors"), ("text_model.embeddings.position_ids", "I64", [1, 77], ids));

        using var after = DiffusersFolder.Open(tiny).Load();

        Assert.All(before.TextEncoder.named_parameters().Zip(after.TextEncoder.named_parameters()),
            p => Assert.True(p.First.parameter.eq(p.Second.parameter).all().item<bool>(), p.First.name));
    }

    [Fact]
    public void An_integer_tensor_in_place_of_a_weight_is_refused()
    {
        var tiny = Path.Combine(_dir, "tiny");
        TinyModel.Write(tiny);
        var path = Path.Combine(tiny, "vae", "diffusion_pytorch_model.safetensors");
        var file = SafeTensorsFile.Open(path);
        var bias = file.Entries["decoder.conv_out.bias"];
        Rewrite(path, ("decoder.conv_out.bias", "I64", bias.Shape, new byte[bias.Elements * 8]));

        var error = Assert.Throws<ModelFormatException>(() => DiffusersFolder.Open(tiny));
        Assert.Contains("decoder.conv_out.bias", error.Message, StringComparison.Ordinal);
        Assert.Contains("dtype I64 is not a weight dtype", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sharded_weights_load_the_same_values_as_one_file()
    {
        var tiny = Path.Combine(_dir, "tiny");
        TinyModel.Write(tiny);
        using var single = DiffusersFolder.Open(tiny).Load();
        Shard(Path.Combine(tiny, "unet"), "diffusion_pytorch_model");

        var folder = DiffusersFolder.Open(tiny);
        using var sharded = folder.Load();

        Assert.True(folder.Weights[0].File.IsSharded);
        Assert.All(single.UNet.named_parameters().Zip(sharded.UNet.named_parameters()),
            p => Assert.True(p.First.parameter.eq(p.Second.parameter).all().item<bool>(), p.First.name));
    }

    [Fact]
    public void A_shard_missing_a_mapped_tensor_is_refused_naming_the_shard_and_tensor()
    {
        var tiny = Path.Combine(_dir, "tiny");
        TinyModel.Write(tiny);
        var unet = Path.Combine(tiny, "unet");
        Shard(unet, "diffusion_pytorch_model");
        var index = Path.Combine(unet, "diffusion_pytorch_model.safetensors.index.json");
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"conv_in.bias\":\"part-1.safetensors\"", "\"conv_in.bias\":\"part-2.safetensors\"", StringComparison.Ordinal));

        var error = Assert.Throws<ModelFormatException>(() => DiffusersFolder.Open(tiny));
        Assert.Contains("conv_in.bias", error.Message, StringComparison.Ordinal);
        Assert.Contains("part-", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shard_outside_the_folder_is_refused()
    {
        var tiny = Path.Combine(_dir, "tiny");
        TinyModel.Write(tiny);
        var unet = Path.Combine(tiny, "unet");
        Shard(unet, "diffusion_pytorch_model");
        var index = Path.Combine(unet, "diffusion_pytorch_model.safetensors.index.json");
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"part-1.safetensors\"", "\"../vae/part-1.safetensors\"", StringComparison.Ordinal));

        var error = Assert.Throws<ModelFormatException>(() => DiffusersFolder.Open(tiny));
        Assert.Contains("a shard must be a file name in the index's folder", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Splits name.safetensors into part-1/part-2 and an index (the single file is removed).</summary>
    private static void Shard(string folder, string stem)
    {
        var path = Path.Combine(folder, stem + ".safetensors");
        var file = SafeTensorsFile.Open(path);
        var names = file.Entries.Keys.Order(StringComparer.Ordinal).ToArray();
        var parts = new[] { names[..(names.Length / 2)], names[(names.Length / 2)..] };
        var map = new Dictionary<string, string>();
        for (var p = 0; p < 2; p++)
        {
            var tensors = parts[p].ToDictionary(n => n, n => file.Load(n));
            SafeTensorsFile.Write(Path.Combine(folder, $"part-{p + 1}.safetensors"), tensors);
            foreach (var (n, t) in tensors)
            {
                map[n] = $"part-{p + 1}.safetensors";
                t.Dispose();
            }
        }
        File.Delete(path);
        File.WriteAllText(path + ".index.json", System.Text.Json.JsonSerializer.Serialize(new { metadata = new { total_size = 1 }, weight_map = map }));
    }

    /// <summary>Rewrites a safetensors file with one entry replaced or added (raw dtype and bytes).</summary>
    private static void Rewrite(string path, (string Name, string DType, long[] Shape, byte[] Data) replacement)
    {
        var file = SafeTensorsFile.Open(path);
        var entries = file.Entries.Values.Where(e => e.Name != replacement.Name).Select(e =>
        {
            using var t = file.Load(e.Name);
            return new SparseModelFolder.Entry(e.Name, "F32", e.Shape, t.bytes.ToArray());
        }).ToList();
        entries.Add(new SparseModelFolder.Entry(replacement.Name, replacement.DType, replacement.Shape, replacement.Data));
        SparseModelFolder.Write(path, entries);
    }
}
