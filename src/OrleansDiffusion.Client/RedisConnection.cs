using StackExchange.Redis;

namespace OrleansDiffusion;

/// <summary>The one place StackExchange.Redis options are built, for silos and clients alike (compiled into the SDK
/// and, linked, into the silo hosting library, which does not reference the SDK).</summary>
internal static class RedisConnection
{
    /// <summary>The connection string as options that never abort on a failed first connect, with credentials and TLS.</summary>
    public static ConfigurationOptions Options(string connection, string? user = null, string? password = null, bool tls = false)
    {
        var configuration = ConfigurationOptions.Parse(connection);
        configuration.AbortOnConnectFail = false;
        if (!string.IsNullOrEmpty(user)) configuration.User = user;
        if (!string.IsNullOrEmpty(password)) configuration.Password = password;
        if (tls) configuration.Ssl = true;
        return configuration;
    }
}
