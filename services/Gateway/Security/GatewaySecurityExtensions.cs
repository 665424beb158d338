using Microsoft.Extensions.Options;
using Platform.Batch.Storage;

namespace Gateway.Security;

public static class GatewaySecurityExtensions
{
    public const string CorsPolicy = "platform-cors";

    /// <summary>
    /// API keys (in the platform database when the host has it), tenants, per-key rate limits, CORS, security headers
    /// and Kestrel's connection limits, all from the "Security" section.
    /// </summary>
    public static WebApplicationBuilder AddGatewaySecurity(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SecurityOptions>().Bind(builder.Configuration.GetSection(SecurityOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<AccessMode>();
        builder.Services.AddSingleton<KeyRateLimiter>();
        // The key store lives in the platform database, registered by the Batch API (AddGatewayBatch) in both hosts.
        builder.Services.AddSingleton(sp => sp.GetService<IPlatformDatabase>() is { } db
            ? new ApiKeyStore(db, sp.GetRequiredService<TimeProvider>())
            : null!);
        builder.Services.AddHostedService<AccessStartupCheck>();
        var security = builder.Configuration.GetSection(SecurityOptions.Section).Get<SecurityOptions>() ?? new SecurityOptions();
        builder.Services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy =>
        {
            if (security.CorsOrigins.Length > 0)
                policy.WithOrigins(security.CorsOrigins).AllowAnyMethod().AllowAnyHeader()
                    .WithExposedHeaders("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                        "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens", "Retry-After",
                        "X-Platform-Worker");
        }));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // A slow or idle client holds one connection at most this long; past the count new ones are closed.
            kestrel.Limits.MaxConcurrentConnections ??= security.MaxConcurrentConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections ??= security.MaxConcurrentConnections;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(security.RequestHeadersTimeoutSeconds);
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(security.KeepAliveTimeoutSeconds);
        });
        return builder;
    }

    /// <summary>Security headers, CORS (preflights answered before the key check), then the key gate.</summary>
    public static WebApplication UseGatewaySecurity(this WebApplication app)
    {
        app.UseMiddleware<SecurityHeadersMiddleware>();
        app.UseCors(CorsPolicy);
        app.UseMiddleware<ApiKeyMiddleware>();
        app.MapAdminKeys();
        return app;
    }
}
