using StbImageSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Loads user-supplied exemplar PNGs. Exemplars are small texture samples, so anything over
/// <see cref="MaxSide"/> pixels a side is refused before decoding rather than exhausting memory.</summary>
public static class ImageLoader
{
    /// <summary>The largest exemplar width or height accepted.</summary>
    public const int MaxSide = 4096;

    /// <summary>Loads an 8-bit PNG (grey, grey+alpha, RGB or RGBA; alpha is ignored) as float32 [3, H, W] in
    /// [-1, 1], mapping byte b to b / 127.5 − 1 so that <see cref="PngWriter"/> writes the same bytes back.</summary>
    public static Tensor LoadRgb(string path)
    {
        var image = DecodeRgb8(path, MaxSide);
        var pixels = image.Width * image.Height;
        var planar = new float[3 * pixels];
        for (var i = 0; i < pixels; i++)
        {
            for (var c = 0; c < 3; c++)
            {
                planar[c * pixels + i] = image.Data[3 * i + c] / 127.5f - 1f;
            }
        }

        return tensor(planar, [3, image.Height, image.Width]);
    }

    /// <summary>Decodes a PNG to interleaved 8-bit RGB after checking the header against the size rules.</summary>
    internal static ImageResult DecodeRgb8(string path, int maxSide)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (width, height, _) = PngReader.ReadHeader(path); // Missing file and non-PNG data fail here.
        if (width <= 0 || height <= 0)
        {
            throw new InvalidImageException(path, $"the image has zero size ({width}x{height})");
        }

        if (width > maxSide || height > maxSide)
        {
            throw new InvalidImageException(path, $"the image is {width}x{height}; at most {maxSide}x{maxSide} is allowed");
        }

        try
        {
            using var stream = File.OpenRead(path);
            return ImageResult.FromStream(stream, ColorComponents.RedGreenBlue);
        }
        catch (Exception e)
        {
            throw new InvalidImageException(path, $"the PNG data cannot be decoded ({e.Message})", e);
        }
    }
}
