using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Platform.ServiceDefaults.Dapr;
using Platform.ServiceDefaults.Telemetry;
using Prometheus;

namespace Platform.ServiceDefaults;

/// <summary>Health, metrics and tracing every service gets (the .NET Aspire "service defaults" pattern).</summary>
public static class ServiceDefaultsExtensions
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder, string serviceName)
    {
        // One Prometheus registry per host rather than the static default, so hosts in one process
        // (tests, all-in-one) do not share counters.
        if (!builder.Services.Any(d => d.ServiceType == typeof(CollectorRegistry)))
            builder.Services.AddSingleton(_ => Metrics.NewCustomRegistry());

        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag])
            .AddCheck<StoppingHealthCheck>("stopping", tags: [ReadyTag]);
        // Dapr sidecar (Dapr:Enabled): secrets as configuration, platform events through pub/sub.
        builder.AddPlatformDapr();

        var otlp = builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? builder.Configuration["Telemetry:OtlpEndpoint"];
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? serviceName))
            .WithTracing(t =>
            {
                t.AddSource("MassTransit", PlatformTelemetry.SourceName)
                    .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !IsInfrastructurePath(ctx.Request.Path))
                    .AddHttpClientInstrumentation();
                if (!string.IsNullOrWhiteSpace(otlp))
                    t.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
            });
        return builder;
    }

    /// <summary>/health (everything, including bus and models: readiness), /alive (liveness), /metrics (Prometheus).</summary>
    public static WebApplication MapServiceDefaults(this WebApplication app)
    {
        app.MapHealthChecks("/health");
        app.MapHealthChecks("/alive", new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        app.MapMetrics("/metrics", app.Services.GetRequiredService<CollectorRegistry>());
        return app;
    }

    private static bool IsInfrastructurePath(Microsoft.AspNetCore.Http.PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/alive") || path.StartsWithSegments("/metrics");
}
