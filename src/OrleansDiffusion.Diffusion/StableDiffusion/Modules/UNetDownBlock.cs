using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>CrossAttnDownBlock2D (with <c>attentions</c>) or DownBlock2D: resnets, then downsamplers.0 unless last.</summary>
public sealed class UNetDownBlock : nn.Module
{
    internal readonly ModuleList<ResnetBlock2D> resnets;
    internal readonly ModuleList<Transformer2DModel>? attentions;
    internal readonly ModuleList<Downsample2D>? downsamplers;

    public UNetDownBlock(bool crossAttention, int input, int output, int layers, int timeEmbedding, int heads, UNetConfig config, bool downsample, Device? device)
        : base(crossAttention ? "CrossAttnDownBlock2D" : "DownBlock2D")
    {
        resnets = nn.ModuleList(Enumerable.Range(0, layers)
            .Select(i => new ResnetBlock2D(i == 0 ? input : output, output, timeEmbedding, config.NormNumGroups, config.NormEps, device)).ToArray());
        if (crossAttention)
            attentions = nn.ModuleList(Enumerable.Range(0, layers)
                .Select(_ => new Transformer2DModel(output, heads, config.CrossAttentionDim, config.UseLinearProjection, config.NormNumGroups, device)).ToArray());
        if (downsample) downsamplers = nn.ModuleList(new Downsample2D(output, false, device));
        RegisterComponents();
    }

    /// <summary>Runs the block; appends every output kept for the skip connections to <paramref name="skips"/>.</summary>
    public Tensor Forward(Tensor input, Tensor embedding, Tensor context, List<Tensor> skips)
    {
        var x = input;
        for (var i = 0; i < resnets.Count; i++)
        {
            x = resnets[i].forward(x, embedding);
            if (attentions is not null) x = attentions[i].forward(x, context);
            skips.Add(x);
        }
        if (downsamplers is not null)
        {
            x = downsamplers[0].forward(x);
            skips.Add(x);
        }
        return x;
    }
}
