using System.Security.Cryptography;

namespace OrleansDiffusion.Abstractions;

/// <summary>Job ids: short, sortable by submission time, safe in grain keys and file names. Every silo checks a
/// client-supplied id with <see cref="Check"/> again before using it.</summary>
public static class JobIds
{
    public const int MaxLength = 64;
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

    /// <summary><c>yyyyMMdd-HHmmss-xxxxxx</c>: UTC time, then 6 random lowercase letters or digits.</summary>
    public static string New(DateTimeOffset now) =>
        $"{now.UtcDateTime:yyyyMMdd-HHmmss}-{RandomNumberGenerator.GetString(Alphabet, 6)}";

    /// <summary>Why <paramref name="id"/> is not a valid job id, or null when it is.</summary>
    public static string? Check(string id)
    {
        if (id.Length == 0) return "must not be empty";
        if (id.Length > MaxLength) return $"must be at most {MaxLength} characters";
        if (id is "." or "..") return "must not be '.' or '..'";
        foreach (var c in id)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) return $"may only contain letters, digits, '-', '_' and '.' (found '{c}')";
        return null;
    }
}
