using System.Security.Cryptography;
using System.Text.Json;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Api.Jobs;

namespace OrleansDiffusion.Api.A1111;

/// <summary>
/// An A1111 txt2img body mapped onto a <see cref="JobSpec"/>: prompt, negative_prompt, width, height, steps, seed (−1:
/// random), cfg_scale, sampler_name (DDIM, Euler; "Karras" in sampler_name or scheduler selects Karras sigmas), tiling;
/// extras tile, overlap, sync, model (also override_settings.sd_model_checkpoint). Other A1111 fields are ignored, as
/// the web UI ignores options it does not use; batch_size and n_iter must be 1.
/// </summary>
internal sealed class Txt2ImgRequest
{
    private Txt2ImgRequest()
    {
    }

    public JobSpec Spec { get; private set; } = new() { Width = 512, Height = 512, Cfg = 7 };
    public string SamplerName { get; private set; } = "DDIM";
    public List<ValidationError> Errors { get; } = [];

    /// <summary>The request as understood, echoed in the response's <c>parameters</c>.</summary>
    public Dictionary<string, object?> Parameters { get; } = [];

    public static Txt2ImgRequest Read(JsonElement body)
    {
        var request = new Txt2ImgRequest();
        if (body.ValueKind != JsonValueKind.Object)
        {
            request.Errors.Add(new("body", "must be a JSON object"));
            return request;
        }
        var fields = new FieldReader(request.Errors);
        var spec = request.Spec;
        var karras = false;
        int? tile = null, overlap = null;
        foreach (var p in body.EnumerateObject())
        {
            var v = p.Value;
            switch (p.Name)
            {
                case "prompt": spec = spec with { Prompt = fields.String(p.Name, v) ?? "" }; break;
                case "negative_prompt": spec = spec with { NegativePrompt = fields.String(p.Name, v) ?? "" }; break;
                case "width": spec = spec with { Width = fields.Int(p.Name, v) ?? spec.Width }; break;
                case "height": spec = spec with { Height = fields.Int(p.Name, v) ?? spec.Height }; break;
                case "steps": spec = spec with { Steps = fields.Int(p.Name, v) ?? spec.Steps }; break;
                case "seed":
                    var seed = fields.Long(p.Name, v) ?? spec.Seed;
                    spec = spec with { Seed = seed == -1 ? RandomNumberGenerator.GetInt32(int.MaxValue) : seed };
                    break;
                case "cfg_scale": spec = spec with { Cfg = fields.Double(p.Name, v) ?? spec.Cfg }; break;
                case "tiling": spec = spec with { Tileable = fields.Bool(p.Name, v) ?? false }; break;
                case "sampler_name" or "sampler_index":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    request.SamplerName = fields.String(p.Name, v) ?? request.SamplerName;
                    break;
                case "scheduler":
                    if (v.ValueKind == JsonValueKind.String && string.Equals(v.GetString(), "karras", StringComparison.OrdinalIgnoreCase)) karras = true;
                    break;
                case "batch_size" or "n_iter":
                    if (fields.Int(p.Name, v) is { } n && n != 1) request.Errors.Add(new(p.Name, "only 1 is supported (one image per request)"));
                    break;
                case "tile": tile = fields.Int(p.Name, v); break;
                case "overlap": overlap = fields.Int(p.Name, v); break;
                case "sync": spec = spec with { Sync = fields.Enum(p.Name, v, spec.Sync) }; break;
                case "model": spec = spec with { Model = v.ValueKind == JsonValueKind.Null ? null : fields.String(p.Name, v) }; break;
                case "override_settings":
                    if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("sd_model_checkpoint", out var checkpoint) && checkpoint.ValueKind == JsonValueKind.String)
                        spec = spec with { Model = checkpoint.GetString() };
                    break;
            }
        }
        var sampler = request.SamplerName.Trim();
        if (sampler.EndsWith(" Karras", StringComparison.OrdinalIgnoreCase))
        {
            karras = true;
            sampler = sampler[..^" Karras".Length];
        }
        switch (sampler.ToUpperInvariant())
        {
            case "DDIM":
                spec = spec with { Scheduler = SchedulerKind.Ddim };
                if (karras) request.Errors.Add(new("scheduler", "Karras sigmas apply only to the Euler sampler"));
                break;
            case "EULER":
                spec = spec with { Scheduler = SchedulerKind.Euler, Karras = karras };
                break;
            default:
                request.Errors.Add(new("sampler_name", $"'{request.SamplerName}' is not supported: use DDIM, Euler or Euler Karras"));
                break;
        }
        spec = spec.WithTiling(tile, overlap);
        request.Spec = spec;
        if (request.Errors.Count == 0)
            request.Errors.AddRange(JobSpecValidator.ValidateForCluster(spec).Select(e => e with { Field = A1111Name(e.Field) }));
        request.Parameters["prompt"] = spec.Prompt;
        request.Parameters["negative_prompt"] = spec.NegativePrompt;
        request.Parameters["width"] = spec.Width;
        request.Parameters["height"] = spec.Height;
        request.Parameters["steps"] = spec.Steps;
        request.Parameters["seed"] = spec.Seed;
        request.Parameters["cfg_scale"] = spec.Cfg;
        request.Parameters["sampler_name"] = request.SamplerName;
        request.Parameters["batch_size"] = 1;
        request.Parameters["n_iter"] = 1;
        request.Parameters["tiling"] = spec.Tileable;
        request.Parameters["tile"] = spec.Tile;
        request.Parameters["overlap"] = spec.Overlap;
        request.Parameters["sync"] = spec.Sync.ToString().ToLowerInvariant();
        request.Parameters["model"] = spec.Model;
        return request;
    }

    /// <summary>A1111's <c>info</c> object (sent as a JSON string) for the finished job.</summary>
    public Dictionary<string, object?> Info(JobStatus status)
    {
        var model = Spec.Model ?? "exemplar";
        var infotext = $"{Spec.Prompt}\nNegative prompt: {Spec.NegativePrompt}\nSteps: {Spec.Steps}, Sampler: {SamplerName}, CFG scale: {Spec.Cfg}, " +
            $"Seed: {Spec.Seed}, Size: {Spec.Width}x{Spec.Height}, Model: {model}, Tile: {Spec.Tile}, Overlap: {Spec.Overlap}, Sync: {Spec.Sync.ToString().ToLowerInvariant()}";
        return new()
        {
            ["prompt"] = Spec.Prompt,
            ["all_prompts"] = new[] { Spec.Prompt },
            ["negative_prompt"] = Spec.NegativePrompt,
            ["all_negative_prompts"] = new[] { Spec.NegativePrompt },
            ["seed"] = Spec.Seed,
            ["all_seeds"] = new[] { Spec.Seed },
            ["subseed"] = -1,
            ["width"] = Spec.Width,
            ["height"] = Spec.Height,
            ["sampler_name"] = SamplerName,
            ["cfg_scale"] = Spec.Cfg,
            ["steps"] = Spec.Steps,
            ["batch_size"] = 1,
            ["sd_model_name"] = model,
            ["job_timestamp"] = status.CreatedAt.UtcDateTime.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture),
            ["infotexts"] = new[] { infotext },
            ["interrupted"] = status.State == JobState.Cancelled,
            ["extra_generation_params"] = new Dictionary<string, object?>
            {
                ["job_id"] = status.JobId,
                ["tile"] = Spec.Tile,
                ["overlap"] = Spec.Overlap,
                ["sync"] = Spec.Sync.ToString().ToLowerInvariant(),
                ["tiles"] = status.Tiles,
                ["seam_score"] = status.SeamScore,
            },
        };
    }

    /// <summary>A validator field name as the A1111 request names it.</summary>
    public static string A1111Name(string field) => field switch
    {
        "cfg" => "cfg_scale",
        "tileable" => "tiling",
        "scheduler" => "sampler_name",
        _ => JobSpecReader.WireName(field),
    };
}
