namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary><c>text_encoder/config.json</c> of a CLIPTextModel, transformers field names. The property defaults are
/// transformers' CLIPTextConfig defaults, and <see cref="Read"/> falls back to them (the one place they are written).</summary>
public sealed record ClipTextConfig
{
    public int VocabSize { get; init; } = 49408;
    public int HiddenSize { get; init; } = 512;
    public int IntermediateSize { get; init; } = 2048;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 8;
    public int MaxPositionEmbeddings { get; init; } = 77;

    /// <summary>"quick_gelu" (SD 1.x) or "gelu" (SD 2.x).</summary>
    public string HiddenAct { get; init; } = "quick_gelu";
    public double LayerNormEps { get; init; } = 1e-5;

    public static ClipTextConfig Read(string path)
    {
        var c = ConfigReader.Open(path);
        var d = new ClipTextConfig();
        var config = new ClipTextConfig
        {
            VocabSize = c.Int("vocab_size", d.VocabSize),
            HiddenSize = c.Int("hidden_size", d.HiddenSize),
            IntermediateSize = c.Int("intermediate_size", d.IntermediateSize),
            NumHiddenLayers = c.Int("num_hidden_layers", d.NumHiddenLayers),
            NumAttentionHeads = c.Int("num_attention_heads", d.NumAttentionHeads),
            MaxPositionEmbeddings = c.Int("max_position_embeddings", d.MaxPositionEmbeddings),
            HiddenAct = c.String("hidden_act", d.HiddenAct),
            LayerNormEps = c.Double("layer_norm_eps", d.LayerNormEps),
        };
        if (config.HiddenAct is not ("quick_gelu" or "gelu")) throw c.Error("hidden_act", $"'{config.HiddenAct}' is not supported (quick_gelu, gelu)");
        if (config.HiddenSize % config.NumAttentionHeads != 0) throw c.Error("num_attention_heads", $"hidden_size {config.HiddenSize} does not split into {config.NumAttentionHeads} heads");
        return config;
    }
}
