namespace OrleansDiffusion.Abstractions;

/// <summary>Names of models in a cluster's model store: a folder directly under the silos' models directory
/// (<c>sd15</c> → <c>&lt;models&gt;/sd15</c>). A name is never a path, so a client cannot reach outside the store.</summary>
public static class ModelNames
{
    public const int MaxLength = 64;

    /// <summary>Why <paramref name="name"/> is not a model name (letters, digits, <c>.</c>, <c>_</c>, <c>-</c>, not starting
    /// with <c>.</c>), or null when it is.</summary>
    public static string? Check(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0) return "must not be empty";
        if (name.Length > MaxLength) return $"must be at most {MaxLength} characters";
        if (name[0] == '.') return $"'{Printable(name)}' is not a model name: a name in the cluster's model store may not start with '.' (paths are refused)";
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                return $"'{Printable(name)}' is not a model name: use the name of a folder in the cluster's model store (letters, digits, '-', '_', '.'; paths are refused)";
        return null;
    }

    private static string Printable(string text) => new(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
