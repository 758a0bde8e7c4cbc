using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace OrleansDiffusion.Client;

/// <summary>
/// A connection to a cluster for programs without a host of their own (command-line tools, scripts, tests):
/// a minimal host running the Orleans client. Dispose it to disconnect.
/// </summary>
public sealed class DiffusionConnection : IAsyncDisposable
{
    /// <summary>How long <see cref="ConnectAsync"/> tries by default.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    private readonly IHost _host;

    private DiffusionConnection(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<DiffusionClient>();
    }

    /// <summary>The connected client.</summary>
    public DiffusionClient Client { get; }

    /// <summary>Connects to the cluster that <paramref name="options"/> describe.</summary>
    /// <param name="options">Where the cluster is; validated first.</param>
    /// <param name="timeout">How long to try (default <see cref="DefaultConnectTimeout"/>).</param>
    /// <param name="configureLogging">The client's logging (default: none).</param>
    /// <param name="cancellationToken">Stops trying.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid.</exception>
    /// <exception cref="ClusterUnavailableException">No gateway answered within <paramref name="timeout"/>; the message is
    /// one line naming the cluster and the address tried.</exception>
    public static async Task<DiffusionConnection> ConnectAsync(DiffusionClientOptions options, TimeSpan? timeout = null,
        Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseDiffusionClient(o =>
        {
            o.Redis = options.Redis;
            o.Gateway = options.Gateway;
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
            o.RedisUser = options.RedisUser;
            o.RedisPassword = options.RedisPassword;
            o.RedisTls = options.RedisTls;
            o.TlsCertificateFile = options.TlsCertificateFile;
            o.TlsKeyFile = options.TlsKeyFile;
            o.TlsCaFile = options.TlsCaFile;
        });
        configureLogging?.Invoke(builder.Logging);
        // The caller owns the process: no console lifetime taking over Ctrl+C / SIGTERM.
        builder.Services.AddSingleton<IHostLifetime, CallerOwnedLifetime>();
        var host = builder.Build();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? DefaultConnectTimeout);
        try
        {
            await host.StartAsync(deadline.Token);
            return new DiffusionConnection(host);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            host.Dispose();
            throw new ClusterUnavailableException(
                $"Cannot connect to the OrleansDiffusion cluster '{options.ClusterId}' via {options.Describe()}: {Reason(e, timeout ?? DefaultConnectTimeout)}", e);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Why connecting failed, in a few words: a timeout, Redis refusing, or the first line of the error
    /// (never StackExchange.Redis's multi-line diagnostic).</summary>
    private static string Reason(Exception error, TimeSpan timeout)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is RedisConnectionException redis) return $"Redis did not answer ({redis.FailureType})";
        }
        if (error is OperationCanceledException) return $"nothing answered within {timeout.TotalSeconds:0.#} s";
        var message = error.Message.Trim();
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }

    /// <summary>Disconnects (waiting at most 10 s) and frees the client.</summary>
    public async ValueTask DisposeAsync()
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _host.StopAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
        }
        _host.Dispose();
    }
}

/// <summary>A host lifetime that leaves signals to the program.</summary>
internal sealed class CallerOwnedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Thrown when a client cannot reach any gateway of the cluster.</summary>
public sealed class ClusterUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClusterUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ClusterUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ClusterUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
