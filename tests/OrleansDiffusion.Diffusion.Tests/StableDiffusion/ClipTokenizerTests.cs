using System.Text.Json;
using OrleansDiffusion.Diffusion.StableDiffusion;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>Ids against the CLIP ViT-L/14 vocabulary (TestData/clip) and transformers' own ids on it
/// (TestData/reference/clip_tokenizer_cases.json).</summary>
public sealed class ClipTokenizerTests
{
    private static readonly Lazy<ClipTokenizer> Sd1 = new(() =>
        ClipTokenizer.Create(Path.Combine(TestDataFiles.ClipFolder, "vocab.json"), Path.Combine(TestDataFiles.ClipFolder, "merges.txt")));

    private static readonly Lazy<ClipTokenizer> Sd2 = new(() =>
        ClipTokenizer.Create(Path.Combine(TestDataFiles.ClipFolder, "vocab.json"), Path.Combine(TestDataFiles.ClipFolder, "merges.txt"), padToken: "!"));

    private static readonly Lazy<JsonElement[]> Cases = new(() =>
        TestDataFiles.ReadReference("clip_tokenizer_cases.json").GetProperty("cases").EnumerateArray().ToArray());

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        var count = TestDataFiles.ReadReference("clip_tokenizer_cases.json").GetProperty("cases").GetArrayLength();
        for (var i = 0; i < count; i++) data.Add(i);
        return data;
    }

    [Fact]
    public void The_reference_has_the_non_ascii_cases()
    {
        var prompts = Cases.Value.Select(c => c.GetProperty("prompt").GetString()!).ToArray();
        Assert.Equal(30, prompts.Length);
        Assert.Contains("一只可爱的猫", prompts);
        Assert.Contains("😀 smiling face 🚀 rocket", prompts);
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Pieces_equal_transformers(int index)
    {
        var c = Cases.Value[index];
        var expected = c.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToArray();
        Assert.Equal(expected, Sd1.Value.Tokens(c.GetProperty("prompt").GetString()!));
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Sd1_ids_equal_transformers(int index)
    {
        var c = Cases.Value[index];
        var expected = c.GetProperty("ids_sd1").EnumerateArray().Select(t => t.GetInt64()).ToArray();
        Assert.Equal(expected, Sd1.Value.Encode(c.GetProperty("prompt").GetString()!));
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Sd2_ids_with_the_bang_pad_token_equal_transformers(int index)
    {
        var c = Cases.Value[index];
        var expected = c.GetProperty("ids_sd2").EnumerateArray().Select(t => t.GetInt64()).ToArray();
        Assert.Equal(expected, Sd2.Value.Encode(c.GetProperty("prompt").GetString()!));
    }

    [Theory]
    [InlineData("a photo of a cat", new[] { 320, 1125, 539, 320, 2368 })]
    [InlineData("A photograph of an astronaut riding a horse", new[] { 320, 8853, 539, 550, 18376, 6765, 320, 4558 })]
    [InlineData("8k", new[] { 279, 330 })]
    [InlineData("  a   PHOTO of a cat ", new[] { 320, 1125, 539, 320, 2368 })]
    public void Raw_ids_equal_clip(string text, int[] expected) =>
        Assert.Equal(expected, Sd1.Value.EncodeRaw(text));

    [Fact]
    public void Prompt_is_wrapped_and_padded_to_77_with_end_of_text()
    {
        var ids = Sd1.Value.Encode("a photo of a cat");

        Assert.Equal(77, ids.Length);
        Assert.Equal([49406, 320, 1125, 539, 320, 2368, 49407], ids.Take(7));
        Assert.All(ids.Skip(7), id => Assert.Equal(49407, id));
    }

    [Fact]
    public void Long_prompt_is_truncated_keeping_the_end_token()
    {
        var ids = Sd1.Value.Encode(string.Join(' ', Enumerable.Repeat("cat", 200)));

        Assert.Equal(77, ids.Length);
        Assert.Equal(49406, ids[0]);
        Assert.All(ids.Skip(1).Take(75), id => Assert.Equal(2368, id));
        Assert.Equal(49407, ids[76]);
    }
}
