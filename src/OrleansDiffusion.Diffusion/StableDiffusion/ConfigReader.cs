using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>Reads one diffusers/transformers config.json; every error names the file and the field.</summary>
internal sealed class ConfigReader
{
    private readonly JsonObject _root;

    private ConfigReader(string path, JsonObject root)
    {
        Path = path;
        _root = root;
    }

    public string Path { get; }

    public static ConfigReader Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, null, "file is missing");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, null, $"not valid JSON ({e.Message})");
        }
        return node is JsonObject root ? new ConfigReader(path, root) : throw new ModelFormatException(path, null, "not a JSON object");
    }

    /// <summary>A config from its JSON text; <paramref name="path"/> names it in errors.</summary>
    public static ConfigReader Parse(string json, string path)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, null, $"not valid JSON ({e.Message})");
        }
        return node is JsonObject root ? new ConfigReader(path, root) : throw new ModelFormatException(path, null, "not a JSON object");
    }

    /// <summary>The field is absent or JSON null (diffusers writes None as null).</summary>
    public bool IsNullOrAbsent(string field) => _root[field] is null;

    public bool Has(string field) => _root[field] is not null;

    public int Int(string field, int? fallback = null) => Get(field, fallback.HasValue, fallback.GetValueOrDefault(), n => n.GetValue<int>(), "an integer");
    public double Double(string field, double? fallback = null) => Get(field, fallback.HasValue, fallback.GetValueOrDefault(), n => n.GetValue<double>(), "a number");
    public bool Bool(string field, bool? fallback = null) => Get(field, fallback.HasValue, fallback.GetValueOrDefault(), n => n.GetValue<bool>(), "true or false");
    public string String(string field, string? fallback = null) => Get(field, fallback is not null, fallback ?? "", n => n.GetValue<string>(), "a string");

    public int[] Ints(string field, int[]? fallback = null) =>
        Get(field, fallback is not null, fallback ?? [], n => n.AsArray().Select(v => v!.GetValue<int>()).ToArray(), "a list of integers");

    public string[] Strings(string field, string[]? fallback = null) =>
        Get(field, fallback is not null, fallback ?? [], n => n.AsArray().Select(v => v!.GetValue<string>()).ToArray(), "a list of strings");

    /// <summary>An integer or a list of integers, expanded to <paramref name="count"/> entries.</summary>
    public int[] IntOrInts(string field, int count, int? fallback = null)
    {
        var node = _root[field];
        if (node is null)
            return fallback is { } f ? Enumerable.Repeat(f, count).ToArray() : throw Error(field, "is missing");
        if (node is JsonArray)
        {
            var values = Ints(field);
            return values.Length == count ? values : throw Error(field, $"lists {values.Length} values, expected {count}");
        }
        return Enumerable.Repeat(Int(field), count).ToArray();
    }

    public ModelFormatException Error(string field, string problem) => new(Path, field, problem);

    private T Get<T>(string field, bool hasFallback, T fallback, Func<JsonNode, T> read, string what)
    {
        var node = _root[field];
        if (node is null)
            return hasFallback ? fallback : throw Error(field, "is missing");
        try
        {
            return read(node);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException or JsonException)
        {
            throw Error(field, $"must be {what}");
        }
    }
}
