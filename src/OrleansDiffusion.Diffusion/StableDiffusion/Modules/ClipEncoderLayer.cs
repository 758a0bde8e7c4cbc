using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>Pre-norm CLIP layer: layer_norm1 → self_attn, layer_norm2 → mlp (fc1, activation, fc2).</summary>
public sealed class ClipEncoderLayer : nn.Module<Tensor, Tensor>
{
    internal readonly ClipAttention self_attn;
    internal readonly LayerNorm layer_norm1;
    internal readonly ClipMlp mlp;
    internal readonly LayerNorm layer_norm2;

    public ClipEncoderLayer(ClipTextConfig config, Device? device)
        : base("CLIPEncoderLayer")
    {
        self_attn = new ClipAttention(config, device);
        layer_norm1 = Layers.LayerNorm(config.HiddenSize, device, config.LayerNormEps);
        mlp = new ClipMlp(config, device);
        layer_norm2 = Layers.LayerNorm(config.HiddenSize, device, config.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = self_attn.forward(layer_norm1.forward(input)).AddInPlace(input);
        return mlp.forward(layer_norm2.forward(x)).AddInPlace(x).MoveToOuterDisposeScope();
    }
}

/// <summary>fc1 → quick_gelu (x·σ(1.702x)) or gelu → fc2.</summary>
public sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
    internal readonly Linear fc1;
    internal readonly Linear fc2;
    private readonly bool _quickGelu;

    public ClipMlp(ClipTextConfig config, Device? device)
        : base("CLIPMLP")
    {
        _quickGelu = config.HiddenAct == "quick_gelu";
        fc1 = Layers.Linear(config.HiddenSize, config.IntermediateSize, device);
        fc2 = Layers.Linear(config.IntermediateSize, config.HiddenSize, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = fc1.forward(input);
        h = _quickGelu ? h.mul(sigmoid(ScalarMath.Times(h, 1.702))) : nn.functional.gelu(h);
        return fc2.forward(h).MoveToOuterDisposeScope();
    }
}
