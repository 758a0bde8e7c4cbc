using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>Nearest ×2 then a 3×3 conv (<c>conv</c>).</summary>
public sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
    internal readonly Conv2d conv;

    public Upsample2D(int channels, Device? device)
        : base(nameof(Upsample2D))
    {
        conv = Layers.Conv(channels, channels, 3, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var upsampled = nn.functional.interpolate(input, scale_factor: [2.0, 2.0]);
        return conv.forward(upsampled);
    }
}
