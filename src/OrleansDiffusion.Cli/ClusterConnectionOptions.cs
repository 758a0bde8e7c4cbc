using System.CommandLine;
using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.Cli;

/// <summary>How the cluster verbs reach a running cluster: <c>--redis</c> or <c>--gateway</c> (defaults from
/// <c>ODIFF_REDIS</c> / <c>ODIFF_GATEWAY</c> when neither flag is given), plus the cluster identity.</summary>
internal sealed class ClusterConnectionOptions
{
    public const string RedisVariable = "ODIFF_REDIS";
    public const string GatewayVariable = "ODIFF_GATEWAY";

    public Option<string?> Redis { get; } = new("--redis") { Description = $"Redis connection string of the cluster's membership (default: ${RedisVariable})." };
    public Option<string?> Gateway { get; } = new("--gateway") { Description = $"A gateway silo as HOST:PORT (default: ${GatewayVariable})." };
    public Option<string> ClusterId { get; } = new("--cluster-id") { Description = "Orleans cluster id of the silos.", DefaultValueFactory = _ => "odiff" };
    public Option<string> ServiceId { get; } = new("--service-id") { Description = "Orleans service id of the silos.", DefaultValueFactory = _ => "odiff" };
    public Option<int> ConnectTimeout { get; } = CliOption.Int("--connect-timeout", "Seconds to try reaching the cluster before giving up (exit code 1).",
        (int)DiffusionConnection.DefaultConnectTimeout.TotalSeconds);

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Redis, Gateway, ClusterId, ServiceId, ConnectTimeout }) command.Options.Add(option);
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
        var options = new DiffusionClientOptions
        {
            Redis = redis,
            Gateway = gateway,
            ClusterId = parsed.GetValue(ClusterId) ?? "",
            ServiceId = parsed.GetValue(ServiceId) ?? "",
        };
        var errors = options.Validate().ToList();
        var seconds = parsed.GetValue(ConnectTimeout);
        if (seconds is < 1 or > 3600)
            errors.Add(new ValidationError("connect-timeout", $"must be between 1 and 3600 seconds, got {seconds}"));
        if (errors.Count > 0) throw new InvalidJobException(errors);
        return options;
    }

    public TimeSpan Timeout(ParseResult parsed) => TimeSpan.FromSeconds(parsed.GetValue(ConnectTimeout));

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
