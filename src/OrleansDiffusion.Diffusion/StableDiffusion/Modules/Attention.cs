using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>diffusers' Attention as the UNet uses it: to_q, to_k, to_v (no bias), to_out.0 (bias); self- or cross-attention.</summary>
public sealed class Attention : nn.Module<Tensor, Tensor?, Tensor>
{
    internal readonly Linear to_q;
    internal readonly Linear to_k;
    internal readonly Linear to_v;
    internal readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;
    private readonly int _heads;

    public Attention(int queryDim, int? crossDim, int heads, int headDim, Device? device)
        : base(nameof(Attention))
    {
        _heads = heads;
        var inner = heads * headDim;
        to_q = Layers.Linear(queryDim, inner, device, bias: false);
        to_k = Layers.Linear(crossDim ?? queryDim, inner, device, bias: false);
        to_v = Layers.Linear(crossDim ?? queryDim, inner, device, bias: false);
        to_out = nn.ModuleList<nn.Module<Tensor, Tensor>>(Layers.Linear(inner, queryDim, device), nn.Dropout(0));
        RegisterComponents();
    }

    /// <param name="input">[B, N, queryDim]</param>
    /// <param name="context">[B, M, crossDim], or null for self-attention.</param>
    public override Tensor forward(Tensor input, Tensor? context)
    {
        using var scope = NewDisposeScope();
        context ??= input;
        var q = SplitHeads(to_q.forward(input), _heads);
        var k = SplitHeads(to_k.forward(context), _heads);
        var v = SplitHeads(to_v.forward(context), _heads);
        var attended = nn.functional.scaled_dot_product_attention(q, k, v);
        return to_out[0].forward(MergeHeads(attended)).MoveToOuterDisposeScope();
    }

    internal static Tensor SplitHeads(Tensor x, int heads) =>
        x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2);

    internal static Tensor MergeHeads(Tensor x) =>
        x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1);
}
