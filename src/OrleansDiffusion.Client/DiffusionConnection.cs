using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace OrleansDiffusion.Client;

/// <summary>
/// A connection to a cluster for programs without a host of their own (command-line tools, scripts, tests):
/// a minimal host running the Orleans client. Dispose it to disconnect.
/// </summary>
public sealed class DiffusionConnection : IAsyncDisposable
{
    /// <summary>How long <see cref="ConnectAsync"/> tries by default.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(30);

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
    /// <param name="cancellationToken">Stops trying.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid.</exception>
    /// <exception cref="ClusterUnavailableException">No gateway answered within <paramref name="timeout"/>.</exception>
    public static async Task<DiffusionConnection> ConnectAsync(DiffusionClientOptions options, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseDiffusionClient(o =>
        {
            o.Redis = options.Redis;
            o.Gateway = options.Gateway;
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
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
            var reason = e is OperationCanceledException ? $"no gateway answered within {(timeout ?? DefaultConnectTimeout).TotalSeconds:F0} s" : e.Message;
            throw new ClusterUnavailableException($"Cannot connect to the OrleansDiffusion cluster '{options.ClusterId}' via {options.Describe()}: {reason}", e);
        }
        catch
        {
            host.Dispose();
            throw;
        }
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
