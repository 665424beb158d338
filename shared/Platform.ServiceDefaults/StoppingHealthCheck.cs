using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Platform.ServiceDefaults;

/// <summary>
/// Readiness (/health) turns unhealthy as soon as the host begins to stop (SIGTERM), before the bus and the server
/// stop, so a load balancer or Kubernetes takes the instance out while it drains. Liveness (/alive) stays healthy.
/// </summary>
public sealed class StoppingHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("stopping: draining running work")
            : HealthCheckResult.Healthy());
}
