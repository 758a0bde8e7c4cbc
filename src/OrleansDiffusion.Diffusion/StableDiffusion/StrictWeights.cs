using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// Matches a module's parameters with a safetensors file strictly: every parameter present with its exact
/// shape, nothing unexpected. Accepts the legacy VAE attention names (query, key, value, proj_attn, also
/// stored as 1×1 convs) and the <c>text_model.embeddings.position_ids</c> buffer, as loaders in the field do.
/// </summary>
public static class StrictWeights
{
    private static readonly (string Legacy, string Current)[] LegacyAttention =
        [(".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0.")];

    private static readonly HashSet<string> IgnoredBuffers = ["text_model.embeddings.position_ids"];

    /// <summary>The module's parameter names and shapes.</summary>
    public static IReadOnlyDictionary<string, long[]> Expected(nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);

    /// <summary>Checks names and shapes only (reads the header); returns, per parameter, the file entry that fills it.</summary>
    public static IReadOnlyDictionary<string, SafeTensorEntry> Match(IReadOnlyDictionary<string, long[]> expected, SafeTensorsFile file)
    {
        var byName = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        foreach (var entry in file.Entries.Values)
        {
            if (IgnoredBuffers.Contains(entry.Name)) continue;
            var name = Canonical(entry.Name);
            if (!expected.ContainsKey(name)) throw new ModelFormatException(file.Path, entry.Name, "unexpected tensor (the model has no such parameter)");
            if (!byName.TryAdd(name, entry)) throw new ModelFormatException(file.Path, entry.Name, $"stored twice (also as '{byName[name].Name}')");
        }
        foreach (var (name, shape) in expected)
        {
            if (!byName.TryGetValue(name, out var entry)) throw new ModelFormatException(file.Path, name, "missing tensor");
            if (!Compatible(shape, entry.Shape))
                throw new ModelFormatException(file.Path, entry.Name, $"shape [{string.Join(", ", entry.Shape)}] does not match the model's [{string.Join(", ", shape)}]");
        }
        return byName;
    }

    /// <summary>Copies every tensor of <paramref name="file"/> into <paramref name="module"/> (strict), converting to the parameters' dtype.</summary>
    public static void Load(nn.Module module, SafeTensorsFile file)
    {
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var matched = Match(parameters.ToDictionary(p => p.Key, p => p.Value.shape), file);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters)
        {
            using var loaded = file.Load(matched[name].Name, parameter.dtype);
            using var shaped = loaded.reshape(parameter.shape);
            parameter.copy_(shaped);
        }
    }

    private static string Canonical(string name)
    {
        if (!name.Contains(".mid_block.attentions.", StringComparison.Ordinal)) return name;
        foreach (var (legacy, current) in LegacyAttention)
            if (name.Contains(legacy, StringComparison.Ordinal)) return name.Replace(legacy, current, StringComparison.Ordinal);
        return name;
    }

    /// <summary>Equal shapes, or a linear weight stored as a 1×1 conv (legacy VAE attention).</summary>
    private static bool Compatible(long[] expected, long[] stored) =>
        expected.SequenceEqual(stored)
        || (expected.Length == 2 && stored.Length == 4 && stored[2] == 1 && stored[3] == 1 && stored[0] == expected[0] && stored[1] == expected[1]);

    /// <summary>Parameter count of a module (works on the meta device).</summary>
    public static long Count(nn.Module module) => module.parameters().Sum(p => p.NumberOfElements);
}
