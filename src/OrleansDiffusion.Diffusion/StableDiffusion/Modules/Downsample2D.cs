using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>Stride-2 3×3 conv (<c>conv</c>); the VAE encoder pads (0, 1, 0, 1) itself and uses no conv padding.</summary>
public sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
    internal readonly Conv2d conv;
    private readonly bool _asymmetric;

    public Downsample2D(int channels, bool asymmetricPadding, Device? device)
        : base(nameof(Downsample2D))
    {
        _asymmetric = asymmetricPadding;
        conv = Layers.Conv(channels, channels, 3, device, stride: 2, padding: asymmetricPadding ? 0 : 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        if (!_asymmetric) return conv.forward(input);
        using var padded = nn.functional.pad(input, [0, 1, 0, 1]);
        return conv.forward(padded);
    }
}
