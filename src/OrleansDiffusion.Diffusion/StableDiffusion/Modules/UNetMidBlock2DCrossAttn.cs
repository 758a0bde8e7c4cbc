using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>resnets.0 → attentions.0 → resnets.1 at the lowest resolution.</summary>
public sealed class UNetMidBlock2DCrossAttn : nn.Module
{
    internal readonly ModuleList<ResnetBlock2D> resnets;
    internal readonly ModuleList<Transformer2DModel> attentions;

    public UNetMidBlock2DCrossAttn(int channels, int timeEmbedding, int heads, UNetConfig config, Device? device)
        : base(nameof(UNetMidBlock2DCrossAttn))
    {
        resnets = nn.ModuleList(
            new ResnetBlock2D(channels, channels, timeEmbedding, config.NormNumGroups, config.NormEps, device),
            new ResnetBlock2D(channels, channels, timeEmbedding, config.NormNumGroups, config.NormEps, device));
        attentions = nn.ModuleList(new Transformer2DModel(channels, heads, config.CrossAttentionDim, config.UseLinearProjection, config.NormNumGroups, device));
        RegisterComponents();
    }

    public Tensor Forward(Tensor input, Tensor embedding, Tensor context)
    {
        var x = resnets[0].forward(input, embedding);
        x = attentions[0].forward(x, context);
        return resnets[1].forward(x, embedding);
    }
}
