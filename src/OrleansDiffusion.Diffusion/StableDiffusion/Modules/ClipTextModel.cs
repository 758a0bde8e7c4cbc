using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>transformers' CLIPTextModel: <c>text_model.{embeddings, encoder.layers, final_layer_norm}</c>.</summary>
public sealed class ClipTextModel : nn.Module<Tensor, Tensor>
{
    internal readonly ClipTextTransformer text_model;

    public ClipTextModel(ClipTextConfig config, Device? device = null)
        : base("CLIPTextModel")
    {
        Config = config;
        text_model = new ClipTextTransformer(config, device);
        RegisterComponents();
    }

    public ClipTextConfig Config { get; }

    /// <summary>Token ids [B, 77] → last hidden state [B, 77, hidden] (after final_layer_norm), as SD uses it.</summary>
    public override Tensor forward(Tensor ids) => text_model.forward(ids);
}

/// <summary>embeddings, encoder, final_layer_norm.</summary>
public sealed class ClipTextTransformer : nn.Module<Tensor, Tensor>
{
    internal readonly ClipTextEmbeddings embeddings;
    internal readonly ClipEncoder encoder;
    internal readonly LayerNorm final_layer_norm;

    public ClipTextTransformer(ClipTextConfig config, Device? device)
        : base("CLIPTextTransformer")
    {
        embeddings = new ClipTextEmbeddings(config, device);
        encoder = new ClipEncoder(config, device);
        final_layer_norm = Layers.LayerNorm(config.HiddenSize, device, config.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var x = embeddings.forward(ids);
        foreach (var layer in encoder.layers) x = layer.forward(x);
        return final_layer_norm.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>encoder.layers.</summary>
public sealed class ClipEncoder : nn.Module
{
    internal readonly ModuleList<ClipEncoderLayer> layers;

    public ClipEncoder(ClipTextConfig config, Device? device)
        : base("CLIPEncoder")
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new ClipEncoderLayer(config, device)).ToArray());
        RegisterComponents();
    }
}

/// <summary>token_embedding + position_embedding.</summary>
public sealed class ClipTextEmbeddings : nn.Module<Tensor, Tensor>
{
    internal readonly Embedding token_embedding;
    internal readonly Embedding position_embedding;

    public ClipTextEmbeddings(ClipTextConfig config, Device? device)
        : base("CLIPTextEmbeddings")
    {
        token_embedding = nn.Embedding(config.VocabSize, config.HiddenSize, device: device);
        position_embedding = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        using var positions = arange(ids.shape[1], ScalarType.Int64, ids.device).unsqueeze(0);
        return token_embedding.forward(ids).AddInPlace(position_embedding.forward(positions)).MoveToOuterDisposeScope();
    }
}
