using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// CLIP's BPE tokenizer on Microsoft.ML.Tokenizers: whitespace collapsed, lower-cased, CLIP's pre-tokenizer
/// regex (the default one splits digits wrongly), <c>&lt;/w&gt;</c> end-of-word suffix; wrapped in
/// &lt;|startoftext|&gt; … &lt;|endoftext|&gt;, truncated and padded to the context length.
/// </summary>
public sealed partial class ClipTokenizer
{
    public const string StartOfText = "<|startoftext|>";
    public const string EndOfText = "<|endoftext|>";

    private readonly BpeTokenizer _bpe;

    private ClipTokenizer(BpeTokenizer bpe, int startId, int endId, int padId, int length)
    {
        _bpe = bpe;
        StartId = startId;
        EndId = endId;
        PadId = padId;
        Length = length;
    }

    public int StartId { get; }
    public int EndId { get; }
    public int PadId { get; }

    /// <summary>Ids per prompt (77 for SD).</summary>
    public int Length { get; }

    [GeneratedRegex(@"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", RegexOptions.IgnoreCase)]
    private static partial Regex PreTokenizerPattern();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    /// <param name="padToken">the token that fills up to <paramref name="length"/> (SD 1.x: &lt;|endoftext|&gt;; SD 2.x: "!").</param>
    public static ClipTokenizer Create(string vocabPath, string mergesPath, int length = 77, string padToken = EndOfText)
    {
        foreach (var path in new[] { vocabPath, mergesPath })
            if (!File.Exists(path)) throw new ModelFormatException(path, null, "file is missing");
        Dictionary<string, int> vocabulary;
        try
        {
            vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabPath)) ?? [];
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(vocabPath, null, $"not a JSON object of token ids ({e.Message})");
        }
        int Id(string token) => vocabulary.TryGetValue(token, out var id) ? id : throw new ModelFormatException(vocabPath, token, "token is missing from the vocabulary");
        var specials = new Dictionary<string, int> { [StartOfText] = Id(StartOfText), [EndOfText] = Id(EndOfText) };
        BpeTokenizer bpe;
        try
        {
            using var vocab = File.OpenRead(vocabPath);
            using var merges = File.OpenRead(mergesPath);
            bpe = BpeTokenizer.Create(vocab, merges, new RegexPreTokenizer(PreTokenizerPattern(), specials), new LowerCaseNormalizer(),
                specials, unknownToken: EndOfText, continuingSubwordPrefix: null, endOfWordSuffix: "</w>");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or InvalidDataException)
        {
            throw new ModelFormatException(mergesPath, null, $"the BPE vocabulary and merges do not load ({e.Message})");
        }
        return new ClipTokenizer(bpe, specials[StartOfText], specials[EndOfText], Id(padToken), length);
    }

    /// <summary>Reads the pad token and length from <c>tokenizer_config.json</c> when the folder has one.</summary>
    public static ClipTokenizer FromFolder(string folder)
    {
        var length = 77;
        var pad = EndOfText;
        var configPath = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            try
            {
                var config = JsonNode.Parse(File.ReadAllText(configPath));
                if (config?["model_max_length"] is JsonValue max && max.TryGetValue<long>(out var m) && m is > 2 and <= 1024) length = (int)m;
                pad = config?["pad_token"] switch
                {
                    JsonValue value when value.TryGetValue<string>(out var s) => s,
                    JsonObject added when added["content"] is JsonValue content => content.GetValue<string>(),
                    _ => pad,
                };
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                throw new ModelFormatException(configPath, null, $"not a valid tokenizer config ({e.Message})");
            }
        }
        return Create(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt"), length, pad);
    }

    /// <summary>The BPE ids of <paramref name="text"/> without start/end tokens.</summary>
    public IReadOnlyList<int> EncodeRaw(string text) => _bpe.EncodeToIds(Whitespace().Replace(text, " ").Trim());

    /// <summary>[start, ids…, end, pad…] of exactly <see cref="Length"/> ids (long prompts are truncated).</summary>
    public long[] Encode(string text)
    {
        var ids = new long[Length];
        Array.Fill(ids, PadId);
        ids[0] = StartId;
        var raw = EncodeRaw(text);
        var count = Math.Min(raw.Count, Length - 2);
        for (var i = 0; i < count; i++) ids[i + 1] = raw[i];
        ids[count + 1] = EndId;
        return ids;
    }
}
