using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>CLIP's causal self-attention: q_proj, k_proj, v_proj, out_proj (all with bias).</summary>
public sealed class ClipAttention : nn.Module<Tensor, Tensor>
{
    internal readonly Linear q_proj;
    internal readonly Linear k_proj;
    internal readonly Linear v_proj;
    internal readonly Linear out_proj;
    private readonly int _heads;

    public ClipAttention(ClipTextConfig config, Device? device)
        : base("CLIPAttention")
    {
        _heads = config.NumAttentionHeads;
        var d = config.HiddenSize;
        q_proj = Layers.Linear(d, d, device);
        k_proj = Layers.Linear(d, d, device);
        v_proj = Layers.Linear(d, d, device);
        out_proj = Layers.Linear(d, d, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var q = Attention.SplitHeads(q_proj.forward(input), _heads);
        var k = Attention.SplitHeads(k_proj.forward(input), _heads);
        var v = Attention.SplitHeads(v_proj.forward(input), _heads);
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        return out_proj.forward(Attention.MergeHeads(attended)).MoveToOuterDisposeScope();
    }
}
