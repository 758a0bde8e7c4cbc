using System.Security.Cryptography;
using System.Text;

namespace OrleansDiffusion.Api.Jobs;

/// <summary>Job ids derived from <c>Idempotency-Key</c> headers: the same key always names the same job.</summary>
internal static class IdempotencyKeys
{
    public const int MaxLength = 255;

    /// <summary>Why <paramref name="key"/> is unusable (1 to 255 visible ASCII characters), or null.</summary>
    public static string? Check(string key)
    {
        if (key.Length is 0 or > MaxLength) return $"must be 1 to {MaxLength} characters";
        return key.All(c => c is >= '!' and <= '~') ? null : "may only contain visible ASCII characters";
    }

    /// <summary><c>key-</c> and the first 32 hex digits of the key's SHA-256.</summary>
    public static string JobId(string key) => "key-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..32];
}
