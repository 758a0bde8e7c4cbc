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
