namespace OrleansDiffusion.Cli;

/// <summary>Text as it may appear in a one-line message on a terminal.</summary>
internal static class CliText
{
    private const int MaxLength = 400;

    /// <summary><paramref name="text"/> on one line of printable characters: line breaks become "; ", other control
    /// characters (NUL bytes from a broken file, escape sequences) become '?', and very long text is cut.</summary>
    public static string Printable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var joined = new string(string.Join("; ", lines).Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return joined.Length <= MaxLength ? joined : string.Concat(joined.AsSpan(0, MaxLength), "…");
    }

    /// <summary>The first line of <paramref name="text"/>, printable.</summary>
    public static string FirstLine(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.TrimStart();
        var end = trimmed.IndexOfAny(['\r', '\n']);
        return Printable(end < 0 ? trimmed : trimmed[..end]);
    }
}
