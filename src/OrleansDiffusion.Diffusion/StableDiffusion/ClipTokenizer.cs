using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>
/// CLIP's byte-level BPE tokenizer, as transformers' <c>CLIPTokenizer</c> (the slow one, without ftfy): the text is
/// split on the special tokens first (&lt;|startoftext|&gt;, &lt;|endoftext|&gt; and a pad token such as SD 2's
/// <c>!</c>, which transformers adds as a special token); each piece is cleaned (control characters dropped, every
/// whitespace character a space), CJK ideographs spaced apart, NFC-normalised, split on whitespace and lower-cased;
/// CLIP's pre-tokenizer regex splits it into words, each word's UTF-8 bytes are mapped to CLIP's printable stand-in
/// characters, and BPE merges them by rank with the <c>&lt;/w&gt;</c> end-of-word suffix. Ids are wrapped in
/// &lt;|startoftext|&gt; … &lt;|endoftext|&gt;, truncated and padded to the context length.
/// </summary>
public sealed partial class ClipTokenizer
{
    public const string StartOfText = "<|startoftext|>";
    public const string EndOfText = "<|endoftext|>";
    private const string EndOfWord = "</w>";

    /// <summary>Byte → CLIP's printable stand-in (GPT-2's bytes_to_unicode): printable Latin-1 bytes map to
    /// themselves, the other 68 bytes to U+0100 onwards, in byte order.</summary>
    private static readonly char[] ByteChars = BuildByteChars();

    private readonly Dictionary<string, int> _vocabulary;
    private readonly Dictionary<(string, string), int> _ranks;
    private readonly string[] _specials;
    private readonly Dictionary<string, string[]> _cache = new(StringComparer.Ordinal);
    private readonly Lock _cacheLock = new();
    private readonly int _unknownId;

    private ClipTokenizer(Dictionary<string, int> vocabulary, Dictionary<(string, string), int> ranks, string[] specials, int startId, int endId, int padId, int length)
    {
        _vocabulary = vocabulary;
        _ranks = ranks;
        _specials = specials;
        _unknownId = endId;
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
        var ranks = new Dictionary<(string, string), int>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(mergesPath))
        {
            lineNumber++;
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2) throw new ModelFormatException(mergesPath, $"line {lineNumber}", "a merge must be two symbols separated by one space");
            ranks.TryAdd((parts[0], parts[1]), ranks.Count);
        }
        // transformers matches the longest special token first; ours never overlap except by prefix, so order by length.
        var specials = new[] { StartOfText, EndOfText, padToken }.Distinct().OrderByDescending(s => s.Length).ToArray();
        return new ClipTokenizer(vocabulary, ranks, specials, Id(StartOfText), Id(EndOfText), Id(padToken), length);
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

    /// <summary>The BPE pieces of <paramref name="text"/> without start/end wrapping (special tokens in the text stay whole).</summary>
    public IReadOnlyList<string> Tokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        foreach (var (piece, special) in SplitOnSpecials(text))
        {
            if (special)
            {
                tokens.Add(piece);
                continue;
            }
            foreach (Match word in PreTokenizerPattern().Matches(Clean(piece)))
                tokens.AddRange(Bpe(word.Value));
        }
        return tokens;
    }

    /// <summary>The BPE ids of <paramref name="text"/> without start/end tokens.</summary>
    public IReadOnlyList<int> EncodeRaw(string text) =>
        Tokens(text).Select(t => _vocabulary.TryGetValue(t, out var id) ? id : _unknownId).ToArray();

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

    /// <summary>The text cut at every occurrence of a special token (case-sensitive, as transformers' added-token trie).</summary>
    private IEnumerable<(string Piece, bool Special)> SplitOnSpecials(string text)
    {
        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            var match = _specials.FirstOrDefault(s => string.CompareOrdinal(text, i, s, 0, s.Length) == 0);
            if (match is null)
            {
                i++;
                continue;
            }
            if (i > start) yield return (text[start..i], false);
            yield return (match, true);
            i += match.Length;
            start = i;
        }
        if (start < text.Length) yield return (text[start..], false);
    }

    /// <summary>transformers' BasicTokenizer without accent stripping or punctuation splitting: drop control
    /// characters, whitespace → space, space out CJK ideographs, NFC, split on whitespace, lower-case, join with spaces.</summary>
    private static string Clean(string text)
    {
        var cleaned = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            var value = rune.Value;
            if (value is 0 or 0xFFFD) continue;
            if (value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator)
            {
                cleaned.Append(' ');
                continue;
            }
            if (IsControl(Rune.GetUnicodeCategory(rune))) continue;
            if (IsCjk(value)) cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            else cleaned.Append(rune.ToString());
        }
        var normalized = cleaned.ToString().Normalize(NormalizationForm.FormC);
        var words = normalized.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return string.Join(' ', words.Select(w => w.ToLowerInvariant()));
    }

    /// <summary>Unicode categories C* (control, format, private use, surrogate, unassigned).</summary>
    private static bool IsControl(UnicodeCategory category) => category is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned;

    /// <summary>The CJK Unified Ideographs blocks (and compatibility blocks) that BERT's tokenizer spaces apart.</summary>
    private static bool IsCjk(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    /// <summary>One pre-tokenized word → its BPE pieces (the last carries &lt;/w&gt;).</summary>
    private string[] Bpe(string word)
    {
        if (word is StartOfText or EndOfText) return [word];
        var bytes = Encoding.UTF8.GetBytes(word);
        var mapped = new string(bytes.Select(b => ByteChars[b]).ToArray());
        lock (_cacheLock)
            if (_cache.TryGetValue(mapped, out var cached)) return cached;

        var symbols = new List<string>(mapped.Length);
        for (var i = 0; i < mapped.Length; i++) symbols.Add(i == mapped.Length - 1 ? mapped[i] + EndOfWord : mapped[i].ToString());
        while (symbols.Count > 1)
        {
            var best = int.MaxValue;
            (string, string) pair = default;
            for (var i = 0; i < symbols.Count - 1; i++)
                if (_ranks.TryGetValue((symbols[i], symbols[i + 1]), out var rank) && rank < best)
                    (best, pair) = (rank, (symbols[i], symbols[i + 1]));
            if (best == int.MaxValue) break;
            var merged = new List<string>(symbols.Count);
            for (var i = 0; i < symbols.Count; i++)
            {
                if (i < symbols.Count - 1 && symbols[i] == pair.Item1 && symbols[i + 1] == pair.Item2)
                {
                    merged.Add(pair.Item1 + pair.Item2);
                    i++;
                }
                else merged.Add(symbols[i]);
            }
            symbols = merged;
        }
        var result = symbols.ToArray();
        lock (_cacheLock)
            if (_cache.Count < 10_000) _cache[mapped] = result;
        return result;
    }

    private static char[] BuildByteChars()
    {
        var chars = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is (>= '!' and <= '~') or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF);
            chars[b] = printable ? (char)b : (char)next++;
        }
        return chars;
    }
}
