namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary><c>text_encoder/config.json</c> of a CLIPTextModel, transformers field names.</summary>
public sealed record ClipTextConfig
{
    public int VocabSize { get; init; } = 49408;
    public int HiddenSize { get; init; } = 768;
    public int IntermediateSize { get; init; } = 3072;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 12;
    public int MaxPositionEmbeddings { get; init; } = 77;

    /// <summary>"quick_gelu" (SD 1.x) or "gelu" (SD 2.x).</summary>
    public string HiddenAct { get; init; } = "quick_gelu";
    public double LayerNormEps { get; init; } = 1e-5;

    public static ClipTextConfig Read(string path)
    {
        var c = ConfigReader.Open(path);
        var config = new ClipTextConfig
        {
            VocabSize = c.Int("vocab_size", 49408),
            HiddenSize = c.Int("hidden_size", 512),
            IntermediateSize = c.Int("intermediate_size", 2048),
            NumHiddenLayers = c.Int("num_hidden_layers", 12),
            NumAttentionHeads = c.Int("num_attention_heads", 8),
            MaxPositionEmbeddings = c.Int("max_position_embeddings", 77),
            HiddenAct = c.String("hidden_act", "quick_gelu"),
            LayerNormEps = c.Double("layer_norm_eps", 1e-5),
        };
        if (config.HiddenAct is not ("quick_gelu" or "gelu")) throw c.Error("hidden_act", $"'{config.HiddenAct}' is not supported (quick_gelu, gelu)");
        if (config.HiddenSize % config.NumAttentionHeads != 0) throw c.Error("num_attention_heads", $"hidden_size {config.HiddenSize} does not split into {config.NumAttentionHeads} heads");
        return config;
    }
}
