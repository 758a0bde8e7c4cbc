using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace OrleansDiffusion.Api.Auth;

/// <summary>The API keys, held only as SHA-256 hashes and compared in constant time. With no keys file the API is open.</summary>
public sealed class ApiKeyStore
{
    private readonly byte[][]? _hashes;

    public ApiKeyStore(DiffusionApiOptions options, ILogger<ApiKeyStore> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ApiKeysFile is not { } path)
        {
            Log.ApiOpen(logger);
            return;
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"the API keys file '{path}' (OrleansDiffusion:ApiKeysFile) does not exist", path);
        _hashes = File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(Hash).ToArray();
        Log.KeysLoaded(logger, _hashes.Length, path);
    }

    /// <summary>True when no keys file is configured: every request is let in.</summary>
    public bool IsOpen => _hashes is null;

    /// <summary>Whether <paramref name="key"/> is one of the keys (always false for a configured, empty file).</summary>
    public bool IsValid(string? key)
    {
        if (_hashes is null) return true;
        if (string.IsNullOrEmpty(key)) return false;
        var presented = Hash(key);
        var found = false;
        // Compare against every key, in constant time each, so timing tells nothing about which matched.
        foreach (var hash in _hashes) found |= CryptographicOperations.FixedTimeEquals(hash, presented);
        return found;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
