using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>The KL autoencoder with diffusers' names: encoder, decoder, quant_conv, post_quant_conv.</summary>
public sealed class AutoencoderKL : nn.Module
{
    internal readonly VaeEncoder encoder;
    internal readonly VaeDecoder decoder;
    internal readonly Conv2d quant_conv;
    internal readonly Conv2d post_quant_conv;

    public AutoencoderKL(VaeConfig config, Device? device = null)
        : base(nameof(AutoencoderKL))
    {
        Config = config;
        encoder = new VaeEncoder(config, device);
        decoder = new VaeDecoder(config, device);
        quant_conv = Layers.Conv(2 * config.LatentChannels, 2 * config.LatentChannels, 1, device);
        post_quant_conv = Layers.Conv(config.LatentChannels, config.LatentChannels, 1, device);
        RegisterComponents();
    }

    public VaeConfig Config { get; }

    /// <summary>Image [B, 3, H, W] in [-1, 1] → the mean of the latent distribution, times the scaling factor.</summary>
    public Tensor Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        var moments = quant_conv.forward(encoder.forward(image));
        return ScalarMath.Times(moments.narrow(1, 0, Config.LatentChannels), Config.ScalingFactor).MoveToOuterDisposeScope();
    }

    /// <summary>Scaled latent [B, C, h, w] → image [B, 3, h·f, w·f] (untiled).</summary>
    public Tensor Decode(Tensor latent)
    {
        using var scope = NewDisposeScope();
        var z = post_quant_conv.forward(ScalarMath.Over(latent, Config.ScalingFactor));
        return decoder.forward(z).MoveToOuterDisposeScope();
    }

    /// <summary>post_quant_conv of the unscaled latent: the decoder's input.</summary>
    internal Tensor DecoderInput(Tensor latent)
    {
        using var unscaled = ScalarMath.Over(latent, Config.ScalingFactor);
        return post_quant_conv.forward(unscaled);
    }
}
