using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Tls;
using StackExchange.Redis;

namespace OrleansDiffusion.Client;

/// <summary>
/// How a client reaches an OrleansDiffusion cluster: through Redis membership (<see cref="Redis"/>) or through one
/// known gateway silo (<see cref="Gateway"/>); exactly one of the two. Configuration keys (section
/// <c>OrleansDiffusion</c>, as for the silos): <c>Redis</c>, <c>RedisUser</c>, <c>RedisPassword</c>, <c>RedisTls</c>,
/// <c>Gateway</c>, <c>ClusterId</c>, <c>ServiceId</c>, <c>Tls:CertificateFile</c>, <c>Tls:KeyFile</c>, <c>Tls:CaFile</c>.
/// The Redis user and password fall back to the environment variables <c>ODIFF_REDIS_USER</c> and
/// <c>ODIFF_REDIS_PASSWORD</c>; they are never taken from a command line.
/// </summary>
public sealed class DiffusionClientOptions
{
    /// <summary>The configuration section the options are read from.</summary>
    public const string SectionName = "OrleansDiffusion";

    /// <summary>StackExchange.Redis connection string of the cluster's membership store, e.g. <c>redis:6379</c>.</summary>
    public string? Redis { get; set; }

    /// <summary>Redis ACL user (configuration or <c>ODIFF_REDIS_USER</c>).</summary>
    public string? RedisUser { get; set; }

    /// <summary>Redis password (configuration or <c>ODIFF_REDIS_PASSWORD</c>).</summary>
    public string? RedisPassword { get; set; }

    /// <summary>Connect to Redis over TLS.</summary>
    public bool RedisTls { get; set; }

    /// <summary>The client certificate (PEM, valid for TLS client use) for a cluster with mutual TLS; TLS is on when set.</summary>
    public string? TlsCertificateFile { get; set; }

    /// <summary>The client certificate's private key (PEM).</summary>
    public string? TlsKeyFile { get; set; }

    /// <summary>The cluster CA (PEM) the gateway's certificate must chain to; the only trust anchor.</summary>
    public string? TlsCaFile { get; set; }

    /// <summary>True when <see cref="TlsCertificateFile"/> is set.</summary>
    public bool TlsEnabled => !string.IsNullOrWhiteSpace(TlsCertificateFile);

    /// <summary>Environment variable the Redis password is read from when configuration has none.</summary>
    public const string RedisPasswordVariable = "ODIFF_REDIS_PASSWORD";

    /// <summary>Environment variable the Redis ACL user is read from when configuration has none.</summary>
    public const string RedisUserVariable = "ODIFF_REDIS_USER";

    /// <summary>A gateway silo's client endpoint as <c>host:port</c>, e.g. <c>127.0.0.1:30000</c>.</summary>
    public string? Gateway { get; set; }

    /// <summary>Orleans cluster id; must match the silos'.</summary>
    public string ClusterId { get; set; } = "odiff";

    /// <summary>Orleans service id; must match the silos'.</summary>
    public string ServiceId { get; set; } = "odiff";

    /// <summary>Reads the options from the <c>OrleansDiffusion</c> section of <paramref name="configuration"/>; absent keys keep their defaults.</summary>
    public static DiffusionClientOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        var options = new DiffusionClientOptions();
        options.Redis = NullIfEmpty(section[nameof(Redis)]);
        options.RedisUser = NullIfEmpty(section[nameof(RedisUser)]) ?? NullIfEmpty(Environment.GetEnvironmentVariable(RedisUserVariable));
        options.RedisPassword = NullIfEmpty(section[nameof(RedisPassword)]) ?? NullIfEmpty(Environment.GetEnvironmentVariable(RedisPasswordVariable));
        options.RedisTls = bool.TryParse(section[nameof(RedisTls)], out var redisTls) && redisTls;
        options.TlsCertificateFile = NullIfEmpty(section["Tls:CertificateFile"]);
        options.TlsKeyFile = NullIfEmpty(section["Tls:KeyFile"]);
        options.TlsCaFile = NullIfEmpty(section["Tls:CaFile"]);
        options.Gateway = NullIfEmpty(section[nameof(Gateway)]);
        options.ClusterId = NullIfEmpty(section[nameof(ClusterId)]) ?? options.ClusterId;
        options.ServiceId = NullIfEmpty(section[nameof(ServiceId)]) ?? options.ServiceId;
        return options;
    }

    /// <summary>Every broken rule; fields are named as the command-line options (<c>redis</c>, <c>gateway</c>,
    /// <c>cluster-id</c>, <c>service-id</c>, <c>tls-cert</c>, <c>tls-key</c>, <c>tls-ca</c>). The TLS files are loaded
    /// and checked here (the certificate must chain to the CA and be valid for TLS client use).</summary>
    public IReadOnlyList<ValidationError> Validate()
    {
        var errors = new List<ValidationError>();
        var hasRedis = !string.IsNullOrWhiteSpace(Redis);
        var hasGateway = !string.IsNullOrWhiteSpace(Gateway);
        if (hasRedis && hasGateway)
            errors.Add(new("redis", "set either Redis (a Redis connection string) or Gateway (host:port), not both"));
        else if (!hasRedis && !hasGateway)
            errors.Add(new("redis", "set Redis (a Redis connection string, e.g. 127.0.0.1:6379) or Gateway (a gateway silo as host:port, e.g. 127.0.0.1:30000)"));
        if (hasRedis)
        {
            try
            {
                _ = ConfigurationOptions.Parse(Redis!);
            }
            catch (ArgumentException e)
            {
                errors.Add(new("redis", $"'{Redis}' is not a Redis connection string: {e.Message}"));
            }
        }
        if (hasGateway && !TrySplitGateway(Gateway!, out _, out _))
            errors.Add(new("gateway", $"must be host:port with a port between 1 and 65535, got '{Gateway}'"));
        if (string.IsNullOrWhiteSpace(ClusterId)) errors.Add(new("cluster-id", "must not be empty"));
        if (string.IsNullOrWhiteSpace(ServiceId)) errors.Add(new("service-id", "must not be empty"));
        if (TlsEnabled)
        {
            ClusterTls.Check(TlsCertificateFile, TlsKeyFile, TlsCaFile, (file, message) => errors.Add(new(file switch
            {
                TlsFile.Certificate => "tls-cert",
                TlsFile.Key => "tls-key",
                _ => "tls-ca",
            }, message)), ClusterTls.ClientAuthentication);
        }
        else if (!string.IsNullOrWhiteSpace(TlsKeyFile) || !string.IsNullOrWhiteSpace(TlsCaFile))
        {
            errors.Add(new("tls-cert", "required when a TLS key or CA file is given (TLS is on when the certificate is set)"));
        }
        return errors;
    }

    /// <summary>The <see cref="Redis"/> connection string as StackExchange options (never aborting on a failed first connect).</summary>
    internal ConfigurationOptions RedisConfiguration() => RedisConnection.Options(Redis!, RedisUser, RedisPassword, RedisTls);

    /// <summary>The <see cref="Gateway"/> endpoint, resolving a host name (IPv4 preferred).</summary>
    internal IPEndPoint GatewayEndPoint()
    {
        if (!TrySplitGateway(Gateway!, out var host, out var port)) throw new InvalidOperationException($"Invalid gateway '{Gateway}'.");
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        var addresses = Dns.GetHostAddresses(host);
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException($"Gateway host '{host}' has no address.");
        return new IPEndPoint(chosen, port);
    }

    internal string Describe() => Redis is { Length: > 0 } ? $"Redis {Redis}" : $"gateway {Gateway}";

    private static bool TrySplitGateway(string value, out string host, out int port)
    {
        host = "";
        port = 0;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), out port) || port is < 1 or > 65535) return false;
        host = value[..colon].Trim('[', ']');
        return host.Length > 0 && !host.Any(char.IsWhiteSpace);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
