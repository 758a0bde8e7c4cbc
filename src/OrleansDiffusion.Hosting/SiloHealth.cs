using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime;

namespace OrleansDiffusion.Hosting;

/// <summary>Follows the silo lifecycle: started once the silo is active; not ready once it starts shutting down.</summary>
public sealed class SiloHealth : ILifecycleParticipant<ISiloLifecycle>
{
    private volatile bool _active;
    private volatile bool _stopping;

    public SiloHealth(IHostApplicationLifetime lifetime) => lifetime.ApplicationStopping.Register(() => _stopping = true);

    public bool Started => _active;
    public bool Ready => _active && !_stopping;

    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe(nameof(SiloHealth), ServiceLifecycleStage.Active,
        _ => { _active = true; return Task.CompletedTask; },
        _ => { _stopping = true; return Task.CompletedTask; });
}

internal sealed class SiloStartedCheck(SiloHealth health) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(health.Started ? HealthCheckResult.Healthy("silo active") : HealthCheckResult.Unhealthy("silo starting"));
}

internal sealed class SiloReadyCheck(SiloHealth health) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(health.Ready ? HealthCheckResult.Healthy("silo accepting work") : HealthCheckResult.Unhealthy(health.Started ? "silo shutting down" : "silo starting"));
}

/// <summary>Ready only while this silo is an active member in the membership table itself (read at most every 5 s):
/// a silo whose table entry is gone (e.g. Redis data loss) or that was declared dead is not ready, instead of staying
/// green in a split cluster.</summary>
internal sealed class MembershipCheck(IMembershipTable table, ILocalSiloDetails silo, SiloHealth health) : IHealthCheck
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    private HealthCheckResult _last = HealthCheckResult.Unhealthy("membership not read yet");
    private DateTime _readAt = DateTime.MinValue;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!health.Started) return HealthCheckResult.Unhealthy("silo starting");
        if (DateTime.UtcNow - _readAt < CacheFor) return _last;
        try
        {
            var data = await table.ReadRowAsync(silo.SiloAddress, cancellationToken).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            var status = data.Members.Select(m => m.Item1).FirstOrDefault(m => m.SiloAddress.Equals(silo.SiloAddress))?.Status;
            _last = status == SiloStatus.Active
                ? HealthCheckResult.Healthy("active in the membership table")
                : HealthCheckResult.Unhealthy(status is null ? "this silo is missing from the membership table" : $"membership status {status}");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _last = HealthCheckResult.Unhealthy($"membership table unreadable: {e.Message}");
        }
        _readAt = DateTime.UtcNow;
        return _last;
    }
}
