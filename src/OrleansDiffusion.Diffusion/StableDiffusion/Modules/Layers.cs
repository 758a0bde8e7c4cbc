using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>Layer factories that place parameters on one device (the <c>meta</c> device builds shapes without memory).</summary>
internal static class Layers
{
    public static Conv2d Conv(long input, long output, long kernel, Device? device, long stride = 1, long padding = -1) =>
        nn.Conv2d(input, output, kernel, stride: stride, padding: padding < 0 ? kernel / 2 : padding, device: device);

    public static Linear Linear(long input, long output, Device? device, bool bias = true) => nn.Linear(input, output, bias, device: device);

    public static LayerNorm LayerNorm(long dim, Device? device, double eps = 1e-5) => nn.LayerNorm(dim, eps, device: device);
}
