using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>A denoiser that works in a latent space: the engine's canvas is decoded to pixels after the last step.</summary>
public interface ILatentDecoder
{
    /// <summary>Pixels per latent cell along each axis.</summary>
    int LatentScale { get; }

    /// <summary>Latent canvas [C, h, w] → image [3, h·s, w·s] in [-1, 1].</summary>
    Tensor Decode(Tensor latent);
}
