namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Sample depth of a written PNG. Sixteen keeps the denoiser's float output without banding in
/// smooth gradients; Eight is what viewers and the seam score expect by default.</summary>
public enum PngBitDepth
{
    Eight = 8,
    Sixteen = 16,
}
