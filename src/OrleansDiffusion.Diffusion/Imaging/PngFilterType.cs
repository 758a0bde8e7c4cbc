namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>The five per-row PNG filters (filter method 0), stored as the first byte of each row.</summary>
internal enum PngFilterType : byte
{
    None = 0,
    Sub = 1,
    Up = 2,
    Average = 3,
    Paeth = 4,
}
