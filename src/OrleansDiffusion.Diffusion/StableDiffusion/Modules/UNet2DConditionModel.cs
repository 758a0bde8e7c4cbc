using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>The SD 1.x / 2.x UNet with diffusers' parameter names, built from <see cref="UNetConfig"/>.</summary>
public sealed class UNet2DConditionModel : nn.Module
{
    internal readonly Conv2d conv_in;
    internal readonly TimestepEmbedding time_embedding;
    internal readonly ModuleList<UNetDownBlock> down_blocks;
    internal readonly UNetMidBlock2DCrossAttn mid_block;
    internal readonly ModuleList<UNetUpBlock> up_blocks;
    internal readonly GroupNorm2d conv_norm_out;
    internal readonly Conv2d conv_out;

    public UNet2DConditionModel(UNetConfig config, Device? device = null)
        : base(nameof(UNet2DConditionModel))
    {
        Config = config;
        var channels = config.BlockOutChannels;
        var n = channels.Length;
        var timeDim = channels[0] * 4;
        conv_in = Layers.Conv(config.InChannels, channels[0], 3, device);
        time_embedding = new TimestepEmbedding(channels[0], timeDim, device);

        var down = new UNetDownBlock[n];
        var output = channels[0];
        for (var i = 0; i < n; i++)
        {
            var input = output;
            output = channels[i];
            down[i] = new UNetDownBlock(config.DownBlockTypes[i] == "CrossAttnDownBlock2D", input, output, config.LayersPerBlock, timeDim,
                config.AttentionHeads[i], config, i < n - 1, device);
        }
        down_blocks = nn.ModuleList(down);
        mid_block = new UNetMidBlock2DCrossAttn(channels[^1], timeDim, config.AttentionHeads[^1], config, device);

        var reversed = channels.Reverse().ToArray();
        var reversedHeads = config.AttentionHeads.Reverse().ToArray();
        var up = new UNetUpBlock[n];
        output = reversed[0];
        for (var i = 0; i < n; i++)
        {
            var previous = output;
            output = reversed[i];
            var input = reversed[Math.Min(i + 1, n - 1)];
            up[i] = new UNetUpBlock(config.UpBlockTypes[i] == "CrossAttnUpBlock2D", input, output, previous, config.LayersPerBlock + 1, timeDim,
                reversedHeads[i], config, i < n - 1, device);
        }
        up_blocks = nn.ModuleList(up);
        conv_norm_out = new GroupNorm2d(config.NormNumGroups, channels[0], config.NormEps, device);
        conv_out = Layers.Conv(channels[0], config.OutChannels, 3, device);
        RegisterComponents();
    }

    public UNetConfig Config { get; }

    /// <param name="sample">[B, C, h, w] latents (h, w multiples of 2^(blocks − 1)).</param>
    /// <param name="timesteps">[B] timesteps.</param>
    /// <param name="context">[B, 77, cross_attention_dim] text embeddings.</param>
    public Tensor Forward(Tensor sample, Tensor timesteps, Tensor context)
    {
        using var scope = NewDisposeScope();
        var projection = TimestepEmbedding.Sinusoidal(timesteps, Config.BlockOutChannels[0], Config.FlipSinToCos, Config.FreqShift);
        var embedding = time_embedding.forward(projection.to(sample.dtype));
        var x = conv_in.forward(sample);
        var skips = new List<Tensor> { x };
        foreach (var block in down_blocks) x = block.Forward(x, embedding, context, skips);
        x = mid_block.Forward(x, embedding, context);
        foreach (var block in up_blocks) x = block.Forward(x, embedding, context, skips);
        x = conv_out.forward(nn.functional.silu(conv_norm_out.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}
