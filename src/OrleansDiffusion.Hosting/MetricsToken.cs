using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace OrleansDiffusion.Hosting;

/// <summary>
/// The bearer token <c>/metrics</c> asks for when <see cref="DiffusionSiloOptions.MetricsTokenFile"/> is set
/// (Prometheus' PodMonitor sends it from a Secret). The file is read again when it changes (a rotated Secret); the
/// comparison is constant-time over SHA-256 digests, so neither the token nor its length leaks through timing.
/// The health endpoints never ask for it.
/// </summary>
internal sealed class MetricsToken(string file)
{
    private readonly string _fileName = file;
    private readonly Lock _lock = new();
    private DateTime _readAt = DateTime.MinValue;
    private byte[] _digest = [];

    /// <summary>The token file's rules: readable, a token of printable characters on its first line.</summary>
    public static void Validate(string? file, Action<string, string> fail)
    {
        if (string.IsNullOrWhiteSpace(file)) return;
        var info = new FileInfo(file);
        if (!info.Exists || info.Length == 0) fail("MetricsTokenFile", $"'{file}' does not exist, is empty or is not a regular file");
        else if (info.Length > 4096) fail("MetricsTokenFile", $"'{file}' is larger than 4096 bytes");
        else if (Read(file).Length == 0) fail("MetricsTokenFile", $"'{file}' holds no token");
    }

    /// <summary>The branch pipeline of the scrape endpoint: 401 with <c>WWW-Authenticate: Bearer</c> unless the
    /// request carries the token.</summary>
    public static Action<IApplicationBuilder>? Guard(string? file)
    {
        if (string.IsNullOrWhiteSpace(file)) return null;
        var token = new MetricsToken(file);
        return branch => branch.Use(async (context, next) =>
        {
            if (token.Accepts(context.Request.Headers.Authorization.ToString()))
            {
                await next(context);
                return;
            }
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"metrics\"";
        });
    }

    public bool Accepts(string authorization)
    {
        const string scheme = "Bearer ";
        if (!authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim()));
        var expected = Current();
        return expected.Length > 0 && CryptographicOperations.FixedTimeEquals(presented, expected);
    }

    private byte[] Current()
    {
        lock (_lock)
        {
            try
            {
                var written = File.GetLastWriteTimeUtc(_fileName);
                if (written != _readAt)
                {
                    var token = Read(_fileName);
                    _digest = token.Length == 0 ? [] : SHA256.HashData(Encoding.UTF8.GetBytes(token));
                    _readAt = written;
                }
            }
            catch (IOException)
            {
                // Mid-rotation: keep the last token read (an unreadable file at start fails validation).
            }
            catch (UnauthorizedAccessException)
            {
            }
            return _digest;
        }
    }

    private static string Read(string file)
    {
        using var reader = new StreamReader(file);
        return (reader.ReadLine() ?? "").Trim();
    }
}
