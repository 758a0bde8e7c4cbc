using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>The VAE mid-block: resnets.0 → attentions.0 → resnets.1 (no time embedding).</summary>
public sealed class UNetMidBlock2D : nn.Module<Tensor, Tensor>
{
    internal readonly ModuleList<ResnetBlock2D> resnets;
    internal readonly ModuleList<VaeAttention> attentions;

    public UNetMidBlock2D(int channels, int groups, Device? device)
        : base(nameof(UNetMidBlock2D))
    {
        resnets = nn.ModuleList(new ResnetBlock2D(channels, channels, null, groups, 1e-6, device), new ResnetBlock2D(channels, channels, null, groups, 1e-6, device));
        attentions = nn.ModuleList(new VaeAttention(channels, groups, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = resnets[0].forward(input, null);
        x = attentions[0].forward(x);
        return resnets[1].forward(x, null).MoveToOuterDisposeScope();
    }
}
