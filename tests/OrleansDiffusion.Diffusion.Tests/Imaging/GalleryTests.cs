using System.Runtime.CompilerServices;
using OrleansDiffusion.Diffusion.Imaging;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

/// <summary>The README's gallery (src/OrleansDiffusion.Diffusion/Imaging/Gallery) shows what the procedural textures
/// are today: one 128² PNG per texture. Set ODIFF_WRITE_GALLERY=1 to rewrite the images after changing a texture.</summary>
public class GalleryTests
{
    private const int Size = 128; // the size jobs generate exemplars at

    private static string GalleryFolder([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "../../../src/OrleansDiffusion.Diffusion/Imaging/Gallery"));

    [Theory]
    [MemberData(nameof(Textures))]
    public void Gallery_image_is_the_current_texture(string name)
    {
        var path = Path.Combine(GalleryFolder(), $"{name}.png");
        using var texture = ProceduralTextures.Generate(name, Size, 0);
        if (Environment.GetEnvironmentVariable("ODIFF_WRITE_GALLERY") == "1")
        {
            Directory.CreateDirectory(GalleryFolder());
            PngWriter.Write(path, texture, PngBitDepth.Eight, $"procedural texture {name}, {Size}x{Size}, seed 0");
        }
        using var stored = ImageLoader.LoadRgb(path);
        // Up to two 8-bit levels: float rounding of the texture maths may differ between machines.
        Assert.True(TensorAssertions.MaxDifference(stored, texture) <= 2 / 127.5f, $"{path} is stale: rerun with ODIFF_WRITE_GALLERY=1");
    }

    public static TheoryData<string> Textures() => [.. ProceduralTextures.Names];
}
