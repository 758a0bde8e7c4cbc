using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>
/// The VAE mid-block's single-head spatial self-attention: group_norm, to_q, to_k, to_v, to_out.0 (all with
/// bias), plus the input as residual. Older checkpoints name these query, key, value, proj_attn (the loader maps them).
/// </summary>
public sealed class VaeAttention : nn.Module<Tensor, Tensor>
{
    internal readonly GroupNorm2d group_norm;
    internal readonly Linear to_q;
    internal readonly Linear to_k;
    internal readonly Linear to_v;
    internal readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;

    public VaeAttention(int channels, int groups, Device? device)
        : base("Attention")
    {
        group_norm = new GroupNorm2d(groups, channels, 1e-6, device);
        to_q = Layers.Linear(channels, channels, device);
        to_k = Layers.Linear(channels, channels, device);
        to_v = Layers.Linear(channels, channels, device);
        to_out = nn.ModuleList<nn.Module<Tensor, Tensor>>(Layers.Linear(channels, channels, device), nn.Dropout(0));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var normalized = group_norm.forward(input);
        return Attend(normalized, input);
    }

    /// <summary>The attention after its group norm: <paramref name="normalized"/> is group_norm(<paramref name="input"/>).</summary>
    internal Tensor Attend(Tensor normalized, Tensor input)
    {
        using var scope = NewDisposeScope();
        var (b, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var x = normalized.view(b, c, h * w).transpose(1, 2);
        var q = to_q.forward(x).unsqueeze(1);
        var k = to_k.forward(x).unsqueeze(1);
        var v = to_v.forward(x).unsqueeze(1);
        var attended = nn.functional.scaled_dot_product_attention(q, k, v).squeeze(1);
        var output = to_out[0].forward(attended).transpose(1, 2).reshape(b, c, h, w);
        return output.AddInPlace(input).MoveToOuterDisposeScope();
    }
}
