using System.Buffers.Binary;
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
    public static Tensor LoadRgb(string path) => ToTensor(DecodeRgb8(path, MaxSide));

    /// <summary>As <see cref="LoadRgb(string)"/>, from the PNG's bytes; <paramref name="name"/> names it in errors.</summary>
    public static Tensor LoadRgb(byte[] png, string name) => ToTensor(DecodeRgb8(png, name, MaxSide));

    private static Tensor ToTensor(ImageResult image)
    {
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

    /// <summary>Decodes a PNG file to interleaved 8-bit RGB after checking the header against the size rules.</summary>
    internal static ImageResult DecodeRgb8(string path, int maxSide)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (width, height, _) = PngReader.ReadHeader(path); // Missing file and non-PNG data fail here.
        CheckSize(path, width, height, maxSide);
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

    /// <summary>Decodes PNG bytes to interleaved 8-bit RGB after checking the header against the size rules.</summary>
    internal static ImageResult DecodeRgb8(byte[] png, string name, int maxSide)
    {
        ArgumentNullException.ThrowIfNull(png);
        // Signature (8 bytes), then IHDR: length (4), type (4), width (4), height (4).
        if (png.Length < 24 || !png.AsSpan(0, 8).SequenceEqual(PngFormat.Signature) || !png.AsSpan(12, 4).SequenceEqual("IHDR"u8))
            throw new InvalidImageException(name, "not a PNG file");
        var width = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4));
        var height = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4));
        CheckSize(name, width, height, maxSide);
        try
        {
            return ImageResult.FromMemory(png, ColorComponents.RedGreenBlue);
        }
        catch (Exception e)
        {
            throw new InvalidImageException(name, $"the PNG data cannot be decoded ({e.Message})", e);
        }
    }

    private static void CheckSize(string name, int width, int height, int maxSide)
    {
        if (width <= 0 || height <= 0)
        {
            throw new InvalidImageException(name, $"the image has zero size ({width}x{height})");
        }

        if (width > maxSide || height > maxSide)
        {
            throw new InvalidImageException(name, $"the image is {width}x{height}; at most {maxSide}x{maxSide} is allowed");
        }
    }
}
