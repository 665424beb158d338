using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Platform.ServiceDefaults;

namespace Gateway.Tests.Endpoints;

/// <summary>Readiness turns false when the host starts stopping (SIGTERM), before anything is torn down; liveness stays.</summary>
public sealed class StoppingHealthCheckTests
{
    [Fact]
    public async Task Health_AfterStopRequested_ReadinessUnhealthyLivenessHealthy()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddServiceDefaults("test");
        using var host = builder.Build();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        var ready = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, ready.Status);
        Assert.Equal(HealthStatus.Unhealthy, ready.Entries["stopping"].Status);
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(r => r.Tags.Contains(ServiceDefaultsExtensions.LiveTag))).Status);
    }
}
