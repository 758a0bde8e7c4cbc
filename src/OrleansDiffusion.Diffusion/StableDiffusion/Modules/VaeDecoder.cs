using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>AutoencoderKL's decoder: conv_in, mid_block, up_blocks, conv_norm_out, conv_out.</summary>
public sealed class VaeDecoder : nn.Module<Tensor, Tensor>
{
    internal readonly Conv2d conv_in;
    internal readonly UNetMidBlock2D mid_block;
    internal readonly ModuleList<UpDecoderBlock2D> up_blocks;
    internal readonly GroupNorm2d conv_norm_out;
    internal readonly Conv2d conv_out;

    public VaeDecoder(VaeConfig config, Device? device)
        : base("Decoder")
    {
        var reversed = config.BlockOutChannels.Reverse().ToArray();
        conv_in = Layers.Conv(config.LatentChannels, reversed[0], 3, device);
        mid_block = new UNetMidBlock2D(reversed[0], config.NormNumGroups, device);
        up_blocks = nn.ModuleList(Enumerable.Range(0, reversed.Length).Select(i =>
            new UpDecoderBlock2D(i == 0 ? reversed[0] : reversed[i - 1], reversed[i], config.LayersPerBlock + 1, config.NormNumGroups, i < reversed.Length - 1, device)).ToArray());
        conv_norm_out = new GroupNorm2d(config.NormNumGroups, reversed[^1], 1e-6, device);
        conv_out = Layers.Conv(reversed[^1], config.OutChannels, 3, device);
        RegisterComponents();
    }

    /// <summary>The decoder's GroupNorms (the tiled decode pools their statistics).</summary>
    internal IEnumerable<GroupNorm2d> Norms => modules().OfType<GroupNorm2d>();

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = conv_in.forward(input);
        x = mid_block.forward(x);
        foreach (var block in up_blocks) x = block.forward(x);
        return conv_out.forward(nn.functional.silu(conv_norm_out.forward(x))).MoveToOuterDisposeScope();
    }
}
