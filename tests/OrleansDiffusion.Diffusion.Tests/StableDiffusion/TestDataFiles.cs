using System.Text.Json;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>The repository's own test data (tests/OrleansDiffusion.Diffusion.Tests/TestData, copied next to the test
/// assembly): the CLIP vocabulary and the diffusers/transformers reference numbers. Nothing outside the repository.</summary>
internal static class TestDataFiles
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "TestData");

    public static string ClipFolder => Path.Combine(Root, "clip");

    public static string Reference(string name) => Path.Combine(Root, "reference", name);

    public static JsonElement ReadReference(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Reference(name)));
        return document.RootElement.Clone();
    }
}
