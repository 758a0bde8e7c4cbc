using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>AutoencoderKL's encoder: conv_in, down_blocks, mid_block, conv_norm_out, conv_out (mean and log-variance).</summary>
public sealed class VaeEncoder : nn.Module<Tensor, Tensor>
{
    internal readonly Conv2d conv_in;
    internal readonly ModuleList<DownEncoderBlock2D> down_blocks;
    internal readonly UNetMidBlock2D mid_block;
    internal readonly GroupNorm2d conv_norm_out;
    internal readonly Conv2d conv_out;

    public VaeEncoder(VaeConfig config, Device? device)
        : base("Encoder")
    {
        var channels = config.BlockOutChannels;
        conv_in = Layers.Conv(config.InChannels, channels[0], 3, device);
        down_blocks = nn.ModuleList(Enumerable.Range(0, channels.Length).Select(i =>
            new DownEncoderBlock2D(i == 0 ? channels[0] : channels[i - 1], channels[i], config.LayersPerBlock, config.NormNumGroups, i < channels.Length - 1, device)).ToArray());
        mid_block = new UNetMidBlock2D(channels[^1], config.NormNumGroups, device);
        conv_norm_out = new GroupNorm2d(config.NormNumGroups, channels[^1], 1e-6, device);
        conv_out = Layers.Conv(channels[^1], 2 * config.LatentChannels, 3, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = conv_in.forward(input);
        foreach (var block in down_blocks) x = block.forward(x);
        x = mid_block.forward(x);
        return conv_out.forward(nn.functional.silu(conv_norm_out.forward(x))).MoveToOuterDisposeScope();
    }
}
