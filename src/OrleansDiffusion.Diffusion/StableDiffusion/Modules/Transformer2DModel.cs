using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>
/// diffusers' Transformer2DModel (continuous input): norm (GroupNorm, eps 1e-6), proj_in (1×1 conv, or linear
/// with <c>use_linear_projection</c>), transformer_blocks, proj_out; plus the input as residual.
/// </summary>
public sealed class Transformer2DModel : nn.Module<Tensor, Tensor, Tensor>
{
    internal readonly GroupNorm2d norm;
    internal readonly nn.Module<Tensor, Tensor> proj_in;
    internal readonly TorchSharp.Modules.ModuleList<BasicTransformerBlock> transformer_blocks;
    internal readonly nn.Module<Tensor, Tensor> proj_out;
    private readonly bool _linear;

    public Transformer2DModel(int channels, int heads, int crossDim, bool linearProjection, int groups, Device? device)
        : base(nameof(Transformer2DModel))
    {
        _linear = linearProjection;
        var headDim = channels / heads;
        norm = new GroupNorm2d(groups, channels, 1e-6, device);
        proj_in = linearProjection ? Layers.Linear(channels, channels, device) : Layers.Conv(channels, channels, 1, device);
        transformer_blocks = nn.ModuleList(new BasicTransformerBlock(channels, heads, headDim, crossDim, device));
        proj_out = linearProjection ? Layers.Linear(channels, channels, device) : Layers.Conv(channels, channels, 1, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input, Tensor context)
    {
        using var scope = NewDisposeScope();
        var (b, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var x = norm.forward(input);
        if (!_linear) x = proj_in.forward(x);
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, c);
        if (_linear) x = proj_in.forward(x);
        foreach (var block in transformer_blocks) x = block.forward(x, context);
        if (_linear) x = proj_out.forward(x);
        x = x.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous();
        if (!_linear) x = proj_out.forward(x);
        return x.AddInPlace(input).MoveToOuterDisposeScope();
    }
}
