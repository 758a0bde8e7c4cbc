using System.Text.Json;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// One component's weights: a single safetensors file, or a sharded checkpoint (<c>*.safetensors.index.json</c> whose
/// <c>weight_map</c> names, for every tensor, the shard file in the same folder that holds it). Strict: every shard
/// exists and stays in the folder, every tensor lies in the shard the map names, and no shard holds a tensor the map
/// does not list. Headers only; nothing is read until <see cref="ReadInto"/>.
/// </summary>
public sealed class SafeTensorsCheckpoint
{
    private readonly Dictionary<string, SafeTensorsFile> _fileOf;

    private SafeTensorsCheckpoint(string path, IReadOnlyList<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> fileOf)
    {
        Path = path;
        Files = files;
        _fileOf = fileOf;
        Entries = fileOf.ToDictionary(p => p.Key, p => p.Value.Entries[p.Key], StringComparer.Ordinal);
    }

    /// <summary>The safetensors file, or the index file of a sharded checkpoint.</summary>
    public string Path { get; }

    public IReadOnlyList<SafeTensorsFile> Files { get; }

    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }

    /// <summary>Bytes of tensor data in all files.</summary>
    public long DataBytes => Entries.Values.Sum(e => e.End - e.Begin);

    public bool IsSharded => Path.EndsWith(".json", StringComparison.Ordinal);

    /// <summary>The file that holds <paramref name="name"/> (errors name it).</summary>
    public string FileOf(string name) => _fileOf.TryGetValue(name, out var file) ? file.Path : Path;

    public static SafeTensorsCheckpoint Open(string path)
    {
        if (!path.EndsWith(".json", StringComparison.Ordinal))
        {
            var file = SafeTensorsFile.Open(path);
            return new SafeTensorsCheckpoint(path, [file], file.Entries.Keys.ToDictionary(k => k, _ => file, StringComparer.Ordinal));
        }
        if (!File.Exists(path)) throw new ModelFormatException(path, null, "file is missing");
        Dictionary<string, string> map;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (!document.RootElement.TryGetProperty("weight_map", out var weightMap) || weightMap.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(path, "weight_map", "is missing or not an object of tensor → shard file");
            map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in weightMap.EnumerateObject())
                map[entry.Name] = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : throw new ModelFormatException(path, entry.Name, "the weight_map value must be a file name");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, null, $"not valid JSON ({e.Message})");
        }
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var shards = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        foreach (var shard in map.Values.Distinct().Order(StringComparer.Ordinal))
        {
            if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                throw new ModelFormatException(path, shard, "a shard must be a file name in the index's folder");
            shards[shard] = SafeTensorsFile.Open(System.IO.Path.Combine(folder, shard));
        }
        var fileOf = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        foreach (var (name, shard) in map)
        {
            var file = shards[shard];
            if (!file.Entries.ContainsKey(name)) throw new ModelFormatException(file.Path, name, $"tensor is missing (the index {System.IO.Path.GetFileName(path)} puts it here)");
            fileOf[name] = file;
        }
        foreach (var file in shards.Values)
            foreach (var name in file.Entries.Keys)
                if (!map.TryGetValue(name, out var listed) || shards[listed] != file)
                    throw new ModelFormatException(file.Path, name, $"tensor is not listed for this shard in {System.IO.Path.GetFileName(path)}");
        return new SafeTensorsCheckpoint(path, shards.Values.ToArray(), fileOf);
    }

    /// <summary>Reads tensor <paramref name="name"/> into <paramref name="destination"/> (see <see cref="SafeTensorsFile.ReadInto"/>).</summary>
    public void ReadInto(string name, TorchSharp.torch.Tensor destination)
    {
        if (!_fileOf.TryGetValue(name, out var file)) throw new ModelFormatException(Path, name, "tensor is not in the checkpoint");
        file.ReadInto(file.Entries[name], destination);
    }

    public TorchSharp.torch.Tensor Load(string name, TorchSharp.torch.ScalarType dtype = TorchSharp.torch.ScalarType.Float32)
    {
        if (!_fileOf.TryGetValue(name, out var file)) throw new ModelFormatException(Path, name, "tensor is not in the checkpoint");
        return file.Load(name, dtype);
    }
}
