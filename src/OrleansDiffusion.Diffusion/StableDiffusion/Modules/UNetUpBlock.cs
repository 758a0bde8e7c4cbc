using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>CrossAttnUpBlock2D (with <c>attentions</c>) or UpBlock2D: resnets over (x ⧺ skip), then upsamplers.0 unless last.</summary>
public sealed class UNetUpBlock : nn.Module
{
    internal readonly ModuleList<ResnetBlock2D> resnets;
    internal readonly ModuleList<Transformer2DModel>? attentions;
    internal readonly ModuleList<Upsample2D>? upsamplers;

    public UNetUpBlock(bool crossAttention, int input, int output, int previousOutput, int layers, int timeEmbedding, int heads,
        UNetConfig config, bool upsample, Device? device)
        : base(crossAttention ? "CrossAttnUpBlock2D" : "UpBlock2D")
    {
        resnets = nn.ModuleList(Enumerable.Range(0, layers).Select(i =>
        {
            var skip = i == layers - 1 ? input : output;
            var resnetInput = i == 0 ? previousOutput : output;
            return new ResnetBlock2D(resnetInput + skip, output, timeEmbedding, config.NormNumGroups, config.NormEps, device);
        }).ToArray());
        if (crossAttention)
            attentions = nn.ModuleList(Enumerable.Range(0, layers)
                .Select(_ => new Transformer2DModel(output, heads, config.CrossAttentionDim, config.UseLinearProjection, config.NormNumGroups, device)).ToArray());
        if (upsample) upsamplers = nn.ModuleList(new Upsample2D(output, device));
        RegisterComponents();
    }

    /// <summary>Runs the block, taking its skip connections from the end of <paramref name="skips"/>.</summary>
    public Tensor Forward(Tensor input, Tensor embedding, Tensor context, List<Tensor> skips)
    {
        var x = input;
        for (var i = 0; i < resnets.Count; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            x = resnets[i].forward(cat([x, skip], 1), embedding);
            if (attentions is not null) x = attentions[i].forward(x, context);
        }
        if (upsamplers is not null) x = upsamplers[0].forward(x);
        return x;
    }
}
