using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Denoisers;
using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Engine;

/// <summary>What <see cref="ImageFinisher.Finish"/> wrote: the full path, its size and the image's seam score (DESIGN §9).</summary>
public sealed record FinishedImage(string Path, long Bytes, double SeamScore);

/// <summary>The last stage of every job, in process and on the coordinator: a latent canvas is decoded to pixels,
/// the pixels go to a PNG (written atomically, with the generation parameters) and are seam-scored.</summary>
public static class ImageFinisher
{
    /// <summary>Decodes (when <paramref name="decoder"/> is given), writes the PNG to <paramref name="path"/> and scores it.</summary>
    /// <param name="canvas">the engine's final canvas: pixels [3, H, W] in [-1, 1], or latents when <paramref name="decoder"/> is given.</param>
    /// <param name="decoder">the job's latent decoder (a Stable Diffusion denoiser), or null for a pixel canvas.</param>
    /// <param name="spec">the job, written into the PNG's <c>parameters</c> text.</param>
    /// <param name="path">output file; parent folders are created.</param>
    /// <param name="depth">PNG bits per channel.</param>
    public static FinishedImage Finish(Tensor canvas, ILatentDecoder? decoder, JobSpec spec, string path, PngBitDepth depth = PngBitDepth.Eight)
    {
        ArgumentNullException.ThrowIfNull(canvas);
        ArgumentNullException.ThrowIfNull(spec);
        using var image = ToPixels(canvas, decoder);
        PngWriter.Write(path, image, depth, GenerationParameters.Format(spec, JobComponents.DenoiserName(spec)));
        var full = System.IO.Path.GetFullPath(path);
        return new FinishedImage(full, new FileInfo(full).Length, SeamScore.Compute(image));
    }

    /// <summary>The canvas as pixels: decoded by <paramref name="decoder"/>, or the canvas itself (an alias the caller disposes).</summary>
    public static Tensor ToPixels(Tensor canvas, ILatentDecoder? decoder)
    {
        ArgumentNullException.ThrowIfNull(canvas);
        return decoder is null ? canvas.alias() : decoder.Decode(canvas);
    }
}
