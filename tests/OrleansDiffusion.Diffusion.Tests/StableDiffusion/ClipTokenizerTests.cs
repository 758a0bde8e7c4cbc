using OrleansDiffusion.Diffusion.StableDiffusion;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>Ids against the CLIP ViT-L/14 vocabulary in ../shared/fixtures/clip (the values SD 1.x sees).</summary>
public sealed class ClipTokenizerTests
{
    internal static string FixtureFolder
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "..", "shared", "fixtures", "clip");
                if (File.Exists(Path.Combine(candidate, "vocab.json"))) return Path.GetFullPath(candidate);
            }
            throw new InvalidOperationException("../shared/fixtures/clip not found above " + AppContext.BaseDirectory);
        }
    }

    private static readonly Lazy<ClipTokenizer> Tokenizer = new(() =>
        ClipTokenizer.Create(Path.Combine(FixtureFolder, "vocab.json"), Path.Combine(FixtureFolder, "merges.txt")));

    [Theory]
    [InlineData("a photo of a cat", new[] { 320, 1125, 539, 320, 2368 })]
    [InlineData("A photograph of an astronaut riding a horse", new[] { 320, 8853, 539, 550, 18376, 6765, 320, 4558 })]
    [InlineData("8k", new[] { 279, 330 })]
    [InlineData("  a   PHOTO of a cat ", new[] { 320, 1125, 539, 320, 2368 })]
    public void Raw_ids_equal_clip(string text, int[] expected) =>
        Assert.Equal(expected, Tokenizer.Value.EncodeRaw(text));

    [Fact]
    public void Prompt_is_wrapped_and_padded_to_77_with_end_of_text()
    {
        var ids = Tokenizer.Value.Encode("a photo of a cat");

        Assert.Equal(77, ids.Length);
        Assert.Equal([49406, 320, 1125, 539, 320, 2368, 49407], ids.Take(7));
        Assert.All(ids.Skip(7), id => Assert.Equal(49407, id));
    }

    [Fact]
    public void Long_prompt_is_truncated_keeping_the_end_token()
    {
        var ids = Tokenizer.Value.Encode(string.Join(' ', Enumerable.Repeat("cat", 200)));

        Assert.Equal(77, ids.Length);
        Assert.Equal(49406, ids[0]);
        Assert.All(ids.Skip(1).Take(75), id => Assert.Equal(2368, id));
        Assert.Equal(49407, ids[76]);
    }
}
