using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Chat;
using Platform.Contracts.Models;
using Platform.ServiceDefaults.Bus;

namespace Platform.ServiceDefaults.Chat;

public static class ChatClientExtensions
{
    /// <summary>
    /// Registers <see cref="ChatCompletionClient"/>, the model directory fed by worker announcements (on a temporary
    /// per-instance queue), the chunk routing on this instance's bus endpoint, and a "models" readiness check.
    /// Call before <see cref="BusExtensions.AddPlatformBus"/>.
    /// </summary>
    public static IHostApplicationBuilder AddChatCompletionClient(this IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(ChatCompletionClient))) return builder;
        builder.Services.AddOptions<ChatClientOptions>().Bind(builder.Configuration.GetSection(ChatClientOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ModelDirectory>();
        builder.Services.AddSingleton<ChatStreamRouter>();
        builder.Services.AddSingleton<PlatformMetrics>();
        builder.Services.AddSingleton<ChatCompletionClient>();
        builder.Services.AddHostedService<ChatStreamListener>();
        builder.Services.AddHealthChecks().AddCheck<ModelsAvailableHealthCheck>("models", tags: [ServiceDefaultsExtensions.ReadyTag]);
        builder.AddBusContribution(new BusContribution
        {
            Register = x => x.AddConsumer<ModelsAnnouncedConsumer>().Endpoint(e =>
            {
                e.Temporary = true;
                e.InstanceId = BusExtensions.InstanceSuffix;
            }),
        });
        return builder;
    }
}

/// <summary>Connects chunk handlers to this instance's bus endpoint and asks workers to announce once the bus runs.</summary>
internal sealed class ChatStreamListener(IBus bus, ChatStreamRouter router, ILogger<ChatStreamListener> logger) : IHostedLifecycleService
{
    private readonly List<ConnectHandle> _handles = [];

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        _handles.Add(bus.ConnectHandler<ChatCompletionChunkProduced>(ctx =>
        {
            if (!router.Deliver(ctx.Message) && ctx.Message.FinishReason is null)
                logger.LogDebug("Dropped a chunk of request {RequestId}, which is no longer open here", ctx.Message.RequestId);
            return Task.CompletedTask;
        }));
        _handles.Add(bus.ConnectHandler<ChatCompletionFailed>(ctx =>
        {
            router.Deliver(ctx.Message);
            return Task.CompletedTask;
        }));
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await bus.Publish(new ModelsAnnouncementRequested(bus.Address.ToString()), cancellationToken);
        }
        catch (Exception ex)
        {
            // Workers announce periodically anyway; this only shortens the wait after a router starts.
            logger.LogWarning(ex, "Could not ask workers to announce their models");
        }
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        foreach (var h in _handles) h.Disconnect();
        return Task.CompletedTask;
    }
}

internal sealed class ModelsAvailableHealthCheck(ModelDirectory directory) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var models = directory.List();
        return Task.FromResult(models.Count > 0
            ? HealthCheckResult.Healthy($"{models.Count} model(s): {string.Join(", ", models.Select(m => m.Name))}")
            : HealthCheckResult.Unhealthy("No worker has announced a model yet."));
    }
}
