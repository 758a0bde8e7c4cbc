using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafeTensorEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>F32, F16 or BF16: a dtype weights may have (integer entries are buffers such as position ids).</summary>
    public bool IsFloat => DType is "F32" or "F16" or "BF16";

    public ScalarType ScalarType => DType switch
    {
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "F64" => ScalarType.Float64,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        _ => ScalarType.Bool,
    };
}

/// <summary>
/// A strict safetensors reader: 8-byte little-endian header length, a JSON header
/// <c>{name: {dtype, shape, data_offsets}}</c> (plus optional <c>__metadata__</c>), then the raw data. Every
/// entry is checked (dtype F32/F16/BF16/F64 or an integer type, shape, offsets inside the data and matching the size);
/// errors name the file and the tensor. Tensors are read straight into their destination's memory (one copy from the
/// file; a second only when the dtype converts).
/// </summary>
public sealed class SafeTensorsFile
{
    /// <summary>Largest header accepted (100 MB, as the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly Dictionary<string, int> ElementSizes = new()
    {
        ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["F64"] = 8, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    private SafeTensorsFile(string path, long dataStart, IReadOnlyDictionary<string, SafeTensorEntry> entries)
    {
        Path = path;
        DataStart = dataStart;
        Entries = entries;
    }

    public string Path { get; }
    public long DataStart { get; }
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }

    public static SafeTensorsFile Open(string path)
    {
        if (!System.IO.File.Exists(path)) throw new ModelFormatException(path, null, "file is missing");
        using var stream = System.IO.File.OpenRead(path);
        var length = stream.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (length < 8 || stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
            throw new ModelFormatException(path, null, $"too short for a safetensors header ({length} bytes)");
        var headerLength = BinaryPrimitives.ReadInt64LittleEndian(prefix);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || headerLength > length - 8)
            throw new ModelFormatException(path, null, $"header length {headerLength} is invalid for a file of {length} bytes");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataStart = 8 + headerLength;
        var dataLength = length - dataStart;

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(Encoding.UTF8.GetString(header).TrimEnd(' '));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, null, $"header is not valid JSON ({e.Message})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(path, null, "header is not a JSON object");
            var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                entries.Add(property.Name, ReadEntry(path, property, dataLength));
            }
            CheckCoverage(path, entries.Values, dataLength);
            return new SafeTensorsFile(path, dataStart, entries);
        }
    }

    private static SafeTensorEntry ReadEntry(string path, JsonProperty property, long dataLength)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new ModelFormatException(path, name, "header entry needs dtype, shape and data_offsets [begin, end]");
        var type = dtype.GetString()!;
        if (!ElementSizes.TryGetValue(type, out var size))
            throw new ModelFormatException(path, name, $"dtype {type} is not supported ({string.Join(", ", ElementSizes.Keys)})");
        var dims = new long[shape.GetArrayLength()];
        var i = 0;
        foreach (var d in shape.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var n) || n < 0)
                throw new ModelFormatException(path, name, "shape must list non-negative integers");
            dims[i++] = n;
        }
        if (!offsets[0].TryGetInt64(out var begin) || !offsets[1].TryGetInt64(out var end) || begin < 0 || end < begin || end > dataLength)
            throw new ModelFormatException(path, name, $"data_offsets are outside the {dataLength} data bytes");
        var entry = new SafeTensorEntry(name, type, dims, begin, end);
        if (entry.Elements * size != end - begin)
            throw new ModelFormatException(path, name, $"{type} [{string.Join(", ", dims)}] needs {entry.Elements * size} bytes, data_offsets give {end - begin}");
        return entry;
    }

    private static void CheckCoverage(string path, IEnumerable<SafeTensorEntry> entries, long dataLength)
    {
        long position = 0;
        foreach (var entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (entry.Begin != position)
                throw new ModelFormatException(path, entry.Name, entry.Begin < position ? "data overlaps the previous tensor" : "data leaves a gap before this tensor");
            position = entry.End;
        }
        if (position != dataLength)
            throw new ModelFormatException(path, null, $"{dataLength - position} bytes after the last tensor");
    }

    /// <summary>Reads one tensor into a new CPU tensor of <paramref name="dtype"/> (default float32).</summary>
    public Tensor Load(string name, ScalarType dtype = ScalarType.Float32)
    {
        if (!Entries.TryGetValue(name, out var entry)) throw new ModelFormatException(Path, name, "tensor is not in the file");
        var result = empty(entry.Shape, dtype);
        try
        {
            ReadInto(entry, result);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads <paramref name="entry"/> into <paramref name="destination"/> (a contiguous CPU tensor with as many elements):
    /// straight from the file into its memory when the dtypes agree, else through one stored-dtype buffer and a conversion.
    /// </summary>
    public void ReadInto(SafeTensorEntry entry, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.NumberOfElements != entry.Elements)
            throw new ModelFormatException(Path, entry.Name, $"holds {entry.Elements} values, the destination {destination.NumberOfElements}");
        if (destination.device_type != TorchSharp.DeviceType.CPU || !destination.is_contiguous())
            throw new ArgumentException("the destination must be a contiguous CPU tensor", nameof(destination));
        using var handle = System.IO.File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        if (destination.dtype == entry.ScalarType)
        {
            Read(handle, entry, destination);
            return;
        }
        using var stored = empty(entry.Shape, entry.ScalarType);
        Read(handle, entry, stored);
        using var flat = destination.view(entry.Shape);
        flat.copy_(stored);
    }

    private void Read(Microsoft.Win32.SafeHandles.SafeFileHandle handle, SafeTensorEntry entry, Tensor destination)
    {
        var length = entry.End - entry.Begin;
        if (length == 0) return;
        if (length > int.MaxValue) throw new ModelFormatException(Path, entry.Name, $"{length} bytes: tensors over 2 GiB are not supported");
        var span = destination.bytes;
        var read = 0;
        while (read < length)
        {
            var n = RandomAccess.Read(handle, span[read..], DataStart + entry.Begin + read);
            if (n <= 0) throw new ModelFormatException(Path, entry.Name, "the file ended inside this tensor's data");
            read += n;
        }
    }

    /// <summary>Writes tensors (F32, F16 or BF16) as a safetensors file, in name order.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, tensor) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var type = tensor.dtype switch
            {
                ScalarType.Float32 => "F32",
                ScalarType.Float16 => "F16",
                ScalarType.BFloat16 => "BF16",
                _ => throw new ArgumentException($"tensor '{name}' has dtype {tensor.dtype}; only F32, F16 and BF16 are written", nameof(tensors)),
            };
            using var cpu = tensor.detach().cpu().contiguous();
            var bytes = cpu.bytes.ToArray();
            header[name] = new { dtype = type, shape = tensor.shape, data_offsets = new[] { offset, offset + bytes.Length } };
            blobs.Add(bytes);
            offset += bytes.Length;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var padded = (json.Length + 7) / 8 * 8;
        using var stream = System.IO.File.Create(path);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, padded);
        stream.Write(prefix);
        stream.Write(json);
        for (var i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var blob in blobs) stream.Write(blob);
    }
}
