using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>The texture sample the exemplar denoiser draws its patches from: a name for logs and metadata, and
/// a float32 [3, H, W] image in [-1, 1] that the caller owns (and disposes).</summary>
public sealed record Exemplar(string Name, Tensor Image);
