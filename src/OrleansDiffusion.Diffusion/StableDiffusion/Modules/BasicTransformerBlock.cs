using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>norm1 → attn1 (self), norm2 → attn2 (cross, text), norm3 → ff; each with a residual.</summary>
public sealed class BasicTransformerBlock : nn.Module<Tensor, Tensor, Tensor>
{
    internal readonly LayerNorm norm1;
    internal readonly Attention attn1;
    internal readonly LayerNorm norm2;
    internal readonly Attention attn2;
    internal readonly LayerNorm norm3;
    internal readonly FeedForward ff;

    public BasicTransformerBlock(int dim, int heads, int headDim, int crossDim, Device? device)
        : base(nameof(BasicTransformerBlock))
    {
        norm1 = Layers.LayerNorm(dim, device);
        attn1 = new Attention(dim, null, heads, headDim, device);
        norm2 = Layers.LayerNorm(dim, device);
        attn2 = new Attention(dim, crossDim, heads, headDim, device);
        norm3 = Layers.LayerNorm(dim, device);
        ff = new FeedForward(dim, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input, Tensor context)
    {
        using var scope = NewDisposeScope();
        var x = attn1.forward(norm1.forward(input), null).AddInPlace(input);
        x = attn2.forward(norm2.forward(x), context).AddInPlace(x);
        x = ff.forward(norm3.forward(x)).AddInPlace(x);
        return x.MoveToOuterDisposeScope();
    }
}
