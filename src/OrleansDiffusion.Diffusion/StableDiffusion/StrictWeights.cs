using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// Matches a module's parameters with a checkpoint strictly: every parameter present with its exact shape and a
/// float dtype, nothing unexpected. Accepts the legacy VAE attention names (query, key, value, proj_attn, also
/// stored as 1×1 convs) and the integer buffer <c>text_model.embeddings.position_ids</c> (checked: shape [1, n] or
/// [n] with n the position embeddings, values 0..n−1; not loaded), as loaders in the field do.
/// </summary>
public static class StrictWeights
{
    private const string PositionIds = "text_model.embeddings.position_ids";
    private const string PositionEmbedding = "text_model.embeddings.position_embedding.weight";

    private static readonly (string Legacy, string Current)[] LegacyAttention =
        [(".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0.")];

    /// <summary>The module's parameter names and shapes.</summary>
    public static IReadOnlyDictionary<string, long[]> Expected(nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);

    /// <summary>Checks names, shapes and dtypes (reads the headers, and the few bytes of known buffers); returns, per
    /// parameter, the checkpoint entry that fills it.</summary>
    public static IReadOnlyDictionary<string, SafeTensorEntry> Match(IReadOnlyDictionary<string, long[]> expected, SafeTensorsCheckpoint checkpoint)
    {
        var byName = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        foreach (var entry in checkpoint.Entries.Values)
        {
            var file = checkpoint.FileOf(entry.Name);
            if (entry.Name == PositionIds && expected.TryGetValue(PositionEmbedding, out var embedding))
            {
                CheckPositionIds(checkpoint, entry, embedding[0]);
                continue;
            }
            var name = Canonical(entry.Name);
            if (!expected.ContainsKey(name)) throw new ModelFormatException(file, entry.Name, "unexpected tensor (the model has no such parameter)");
            if (!entry.IsFloat) throw new ModelFormatException(file, entry.Name, $"dtype {entry.DType} is not a weight dtype (F32, F16, BF16)");
            if (!byName.TryAdd(name, entry)) throw new ModelFormatException(file, entry.Name, $"stored twice (also as '{byName[name].Name}')");
        }
        foreach (var (name, shape) in expected)
        {
            if (!byName.TryGetValue(name, out var entry)) throw new ModelFormatException(checkpoint.Path, name, "missing tensor");
            if (!Compatible(shape, entry.Shape))
                throw new ModelFormatException(checkpoint.FileOf(entry.Name), entry.Name, $"shape [{string.Join(", ", entry.Shape)}] does not match the model's [{string.Join(", ", shape)}]");
        }
        return byName;
    }

    /// <summary>Reads every parameter of <paramref name="module"/> (built on the CPU) from the checkpoint (strict), straight
    /// into the parameter's memory, converting to the parameter's dtype where the stored one differs.</summary>
    public static void Load(nn.Module module, SafeTensorsCheckpoint checkpoint)
    {
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var matched = Match(parameters.ToDictionary(p => p.Key, p => p.Value.shape), checkpoint);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters)
            checkpoint.ReadInto(matched[name].Name, parameter);
    }

    private static void CheckPositionIds(SafeTensorsCheckpoint checkpoint, SafeTensorEntry entry, long positions)
    {
        var file = checkpoint.FileOf(entry.Name);
        if (entry.DType is not ("I64" or "I32" or "F32"))
            throw new ModelFormatException(file, entry.Name, $"dtype {entry.DType}: position ids must be I64, I32 or F32");
        var shapeOk = (entry.Shape.Length == 2 && entry.Shape[0] == 1 && entry.Shape[1] == positions) || (entry.Shape.Length == 1 && entry.Shape[0] == positions);
        if (!shapeOk) throw new ModelFormatException(file, entry.Name, $"shape [{string.Join(", ", entry.Shape)}] is not [1, {positions}]");
        using var values = checkpoint.Load(entry.Name, ScalarType.Int64);
        var ids = values.data<long>().ToArray();
        for (var i = 0; i < ids.Length; i++)
            if (ids[i] != i) throw new ModelFormatException(file, entry.Name, $"position id {i} is {ids[i]}; the ids must be 0..{positions - 1}");
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
