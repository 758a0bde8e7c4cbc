using System.CommandLine;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.Cli;

/// <summary>How the cluster verbs reach a running cluster: <c>--redis</c> or <c>--gateway</c> (defaults from
/// <c>ODIFF_REDIS</c> / <c>ODIFF_GATEWAY</c> when neither flag is given), plus the cluster identity, a client certificate
/// for a cluster with mutual TLS (<c>--tls-cert</c>, <c>--tls-key</c>, <c>--tls-ca</c>, defaults from <c>ODIFF_TLS_CERT</c>,
/// <c>ODIFF_TLS_KEY</c>, <c>ODIFF_TLS_CA</c>) and Redis credentials, from the environment only
/// (<c>ODIFF_REDIS_USER</c>, <c>ODIFF_REDIS_PASSWORD</c>, <c>ODIFF_REDIS_TLS</c>): a password on a command line is
/// visible to every user of the machine.</summary>
internal sealed class ClusterConnectionOptions
{
    public const string RedisVariable = "ODIFF_REDIS";
    public const string GatewayVariable = "ODIFF_GATEWAY";
    public const string TlsCertVariable = "ODIFF_TLS_CERT";
    public const string TlsKeyVariable = "ODIFF_TLS_KEY";
    public const string TlsCaVariable = "ODIFF_TLS_CA";
    public const string RedisTlsVariable = "ODIFF_REDIS_TLS";

    public Option<string?> Redis { get; } = new("--redis") { Description = $"Redis connection string of the cluster's membership (default: ${RedisVariable})." };
    public Option<string?> Gateway { get; } = new("--gateway") { Description = $"A gateway silo as HOST:PORT (default: ${GatewayVariable})." };
    public Option<string> ClusterId { get; } = new("--cluster-id") { Description = "Orleans cluster id of the silos.", DefaultValueFactory = _ => "odiff" };
    public Option<string> ServiceId { get; } = new("--service-id") { Description = "Orleans service id of the silos.", DefaultValueFactory = _ => "odiff" };
    public Option<string?> TlsCert { get; } = new("--tls-cert") { Description = $"Client certificate (PEM) for a cluster with mutual TLS (default: ${TlsCertVariable})." };
    public Option<string?> TlsKey { get; } = new("--tls-key") { Description = $"The client certificate's private key (PEM) (default: ${TlsKeyVariable})." };
    public Option<string?> TlsCa { get; } = new("--tls-ca") { Description = $"The cluster CA (PEM) the gateway's certificate must chain to (default: ${TlsCaVariable})." };
    public Option<int> ConnectTimeout { get; } = CliOption.Int("--connect-timeout", "Seconds to try reaching the cluster before giving up (exit code 1).",
        (int)DiffusionConnection.DefaultConnectTimeout.TotalSeconds);

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Redis, Gateway, ClusterId, ServiceId, TlsCert, TlsKey, TlsCa, ConnectTimeout }) command.Options.Add(option);
    }

    /// <summary>Validated client options; throws <see cref="InvalidJobException"/> naming the option otherwise.</summary>
    public DiffusionClientOptions ToClientOptions(ParseResult parsed)
    {
        var redis = parsed.GetValue(Redis);
        var gateway = parsed.GetValue(Gateway);
        if (redis is not null && gateway is not null)
            throw new InvalidJobException("redis", "give --redis or --gateway, not both");
        if (redis is null && gateway is null)
        {
            redis = NullIfEmpty(Environment.GetEnvironmentVariable(RedisVariable));
            gateway = NullIfEmpty(Environment.GetEnvironmentVariable(GatewayVariable));
            if (redis is not null && gateway is not null)
                throw new InvalidJobException("redis", $"{RedisVariable} and {GatewayVariable} are both set; pass --redis or --gateway to choose");
        }
        if (redis is null && gateway is null)
            throw new InvalidJobException("redis", $"give --redis CONNECTION or --gateway HOST:PORT (or set {RedisVariable} / {GatewayVariable}) to reach a cluster");
        var errors = new List<ValidationError>();
        if (parsed.GetValue(Redis) is { } flag && RedisPasswordIn(flag))
            errors.Add(new ValidationError("redis", $"holds a password; set {DiffusionClientOptions.RedisPasswordVariable} (and {DiffusionClientOptions.RedisUserVariable}) instead of putting it on the command line"));
        var options = new DiffusionClientOptions
        {
            Redis = redis,
            Gateway = gateway,
            ClusterId = parsed.GetValue(ClusterId) ?? "",
            ServiceId = parsed.GetValue(ServiceId) ?? "",
            RedisUser = NullIfEmpty(Environment.GetEnvironmentVariable(DiffusionClientOptions.RedisUserVariable)),
            RedisPassword = NullIfEmpty(Environment.GetEnvironmentVariable(DiffusionClientOptions.RedisPasswordVariable)),
            RedisTls = bool.TryParse(Environment.GetEnvironmentVariable(RedisTlsVariable), out var redisTls) && redisTls,
            TlsCertificateFile = parsed.GetValue(TlsCert) ?? NullIfEmpty(Environment.GetEnvironmentVariable(TlsCertVariable)),
            TlsKeyFile = parsed.GetValue(TlsKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable(TlsKeyVariable)),
            TlsCaFile = parsed.GetValue(TlsCa) ?? NullIfEmpty(Environment.GetEnvironmentVariable(TlsCaVariable)),
        };
        if (errors.Count == 0) errors.AddRange(options.Validate());
        var seconds = parsed.GetValue(ConnectTimeout);
        if (seconds is < 1 or > 3600)
            errors.Add(new ValidationError("connect-timeout", $"must be between 1 and 3600 seconds, got {seconds}"));
        if (errors.Count > 0) throw new InvalidJobException(errors);
        return options;
    }

    public TimeSpan Timeout(ParseResult parsed) => TimeSpan.FromSeconds(parsed.GetValue(ConnectTimeout));

    private static bool RedisPasswordIn(string connection)
    {
        try
        {
            return !string.IsNullOrEmpty(StackExchange.Redis.ConfigurationOptions.Parse(connection).Password);
        }
        catch (ArgumentException)
        {
            return false; // reported by the client options' own check
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
