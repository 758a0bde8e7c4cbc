using System.Text.Json;
using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Api.Jobs;

/// <summary>Reads a <c>POST /v1/jobs</c> body field by field, so each wrong type, unknown field or broken rule is
/// reported under its own snake_case name; absent fields take the <c>odiff generate</c> defaults.</summary>
internal static class JobSpecReader
{
    public static (JobSpec Spec, List<ValidationError> Errors) Read(JsonElement body)
    {
        var errors = new List<ValidationError>();
        var spec = new JobSpec();
        if (body.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new("body", "must be a JSON object with the job's fields"));
            return (spec, errors);
        }
        var fields = new FieldReader(errors);
        string? exemplarName = null;
        byte[]? exemplarPng = null;
        int? tile = null, overlap = null;
        foreach (var property in body.EnumerateObject())
        {
            var v = property.Value;
            switch (property.Name)
            {
                case "prompt": spec = spec with { Prompt = fields.String(property.Name, v) ?? spec.Prompt }; break;
                case "negative_prompt": spec = spec with { NegativePrompt = fields.String(property.Name, v) ?? spec.NegativePrompt }; break;
                case "width": spec = spec with { Width = fields.Int(property.Name, v) ?? spec.Width }; break;
                case "height": spec = spec with { Height = fields.Int(property.Name, v) ?? spec.Height }; break;
                case "steps": spec = spec with { Steps = fields.Int(property.Name, v) ?? spec.Steps }; break;
                case "seed": spec = spec with { Seed = fields.Long(property.Name, v) ?? spec.Seed }; break;
                case "tile": tile = fields.Int(property.Name, v); break;
                case "overlap": overlap = fields.Int(property.Name, v); break;
                case "sync": spec = spec with { Sync = fields.Enum(property.Name, v, spec.Sync) }; break;
                case "scheduler": spec = spec with { Scheduler = fields.Enum(property.Name, v, spec.Scheduler) }; break;
                case "eta": spec = spec with { Eta = fields.Double(property.Name, v) ?? spec.Eta }; break;
                case "karras": spec = spec with { Karras = fields.Bool(property.Name, v) ?? spec.Karras }; break;
                case "cfg": spec = spec with { Cfg = fields.Double(property.Name, v) ?? spec.Cfg }; break;
                case "tileable": spec = spec with { Tileable = fields.Bool(property.Name, v) ?? spec.Tileable }; break;
                case "model": spec = spec with { Model = v.ValueKind == JsonValueKind.Null ? null : fields.String(property.Name, v) }; break;
                case "exemplar_png": exemplarPng = v.ValueKind == JsonValueKind.Null ? null : fields.Base64(property.Name, v); break;
                case "exemplar_name": exemplarName = v.ValueKind == JsonValueKind.Null ? null : fields.String(property.Name, v); break;
                default: errors.Add(new(property.Name, "is not a field of a job spec")); break;
            }
        }
        // As on the command line: the tile fits the canvas, the overlap the tile (0 for halo sync).
        spec = spec.WithTiling(tile, overlap);
        if (exemplarPng is not null) spec = spec with { Exemplar = new ExemplarImage(exemplarName ?? "exemplar.png", exemplarPng) };
        else if (exemplarName is not null) errors.Add(new("exemplar_name", "needs exemplar_png"));
        if (errors.Count == 0) errors.AddRange(JobSpecValidator.ValidateForCluster(spec).Select(e => e with { Field = WireName(e.Field) }));
        return (spec, errors);
    }

    /// <summary>A validator field name (kebab-case, as on the command line) as the API's JSON names it.</summary>
    public static string WireName(string field) => field switch
    {
        "exemplar" => "exemplar_png",
        "job-id" => "job_id",
        _ => field.Replace('-', '_'),
    };
}

/// <summary>Typed reads of one JSON value, recording a named error instead of throwing.</summary>
internal sealed class FieldReader(List<ValidationError> errors)
{
    public string? String(string name, JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString() : Fail<string>(name, "must be a string");

    public int? Int(string name, JsonElement v) => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : FailStruct<int>(name, "must be an integer");

    public long? Long(string name, JsonElement v) => v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var i) ? i : FailStruct<long>(name, "must be an integer");

    public double? Double(string name, JsonElement v) => v.ValueKind == JsonValueKind.Number ? v.GetDouble() : FailStruct<double>(name, "must be a number");

    public bool? Bool(string name, JsonElement v) => v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : FailStruct<bool>(name, "must be true or false");

    public byte[]? Base64(string name, JsonElement v) =>
        v.ValueKind == JsonValueKind.String && v.TryGetBytesFromBase64(out var bytes) ? bytes : Fail<byte[]>(name, "must be a base64 string");

    public T Enum<T>(string name, JsonElement v, T fallback)
        where T : struct, Enum
    {
        if (v.ValueKind == JsonValueKind.String && System.Enum.TryParse<T>(v.GetString(), ignoreCase: true, out var value)
            && System.Enum.IsDefined(value) && !char.IsDigit(v.GetString()![0]))
            return value;
        var names = string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()));
        errors.Add(new(name, $"must be one of {names}"));
        return fallback;
    }

    private T? Fail<T>(string name, string message)
        where T : class
    {
        errors.Add(new(name, message));
        return null;
    }

    private T? FailStruct<T>(string name, string message)
        where T : struct
    {
        errors.Add(new(name, message));
        return null;
    }
}
