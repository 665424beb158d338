using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MoeAdapter.Announcements;
using MoeAdapter.Generation;
using MoeAdapter.Models;
using MoeAdapter.Routing;
using Platform.Contracts.Chat;
using Platform.Contracts.Moe;
using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Bus;
using Platform.ServiceDefaults.Models;
using TextLlm.Generation;
using TextLlm.Models;

namespace MoeAdapter;

public static class MoeAdapterExtensions
{
    public const string SettingsFile = "moeadapter.settings.json";

    /// <summary>
    /// The MoE worker: loads the registry's models of Kind "moe" at start, consumes each one's chat queue (chat-{model})
    /// with a ConcurrentMessageLimit of its engine's MaxConcurrentSequences and its routing queue (moe-routing-{model}),
    /// streams chunks with the pictures decoded, and announces the models ("image-tokens" when the folder has an image
    /// adapter, "moe-routing" always). Works in its own process or in the all-in-one host. Call before AddPlatformBus.
    /// </summary>
    /// <param name="requireModels">False in the all-in-one host: with no MoE model configured the worker is not added;
    /// its own process (true) refuses to start without one.</param>
    public static IHostApplicationBuilder AddMoeAdapterWorker(this IHostApplicationBuilder builder, bool requireModels = true)
    {
        var registry = builder.Configuration.GetSection("Models").Get<Dictionary<string, ModelEntry>>() ?? [];
        var moeOptions = builder.Configuration.GetSection(MoeAdapterOptions.Section).Get<MoeAdapterOptions>() ?? new MoeAdapterOptions();
        var served = MoeEngines.Served(registry, moeOptions);
        if (!requireModels && served.Count == 0) return builder;
        Platform.Inference.Runtime.OpenMpEnvironment.ApplyDefaults();
        builder.Services.AddOptions<MoeAdapterOptions>().Bind(builder.Configuration.GetSection(MoeAdapterOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        // Shared with the text and judge workers when they run in the same process: one registry, one set of handles.
        builder.Services.TryAddSingleton<IReadOnlyDictionary<string, ModelEntry>>(registry);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<ActiveGenerations>();
        builder.Services.AddHostedService<CancellationListener>();
        builder.Services.AddSingleton<MoeEngines>();
        // Registered before the bus (AddPlatformBus comes later), so models are loaded before any message is consumed.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MoeEngines>());
        builder.Services.AddHostedService<RoutingMetrics>();
        builder.Services.AddSingleton<ModelAnnouncer<MoeEngines>>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ModelAnnouncer<MoeEngines>>());
        builder.Services.AddHealthChecks().AddCheck<MoeEnginesHealthCheck>("moe-engines", tags: [ServiceDefaultsExtensions.ReadyTag]);

        builder.AddBusContribution(new BusContribution
        {
            Register = x =>
            {
                x.AddConsumer<GenerateImageTokensConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<GetRoutingStatisticsConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<MoeAnnouncementRequestedConsumer>().Endpoint(e =>
                {
                    e.Temporary = true;
                    e.InstanceId = BusExtensions.InstanceSuffix;
                });
            },
            Configure = (context, cfg) =>
            {
                foreach (var (name, entry) in served)
                {
                    cfg.ReceiveEndpoint(ChatQueues.ForModel(name), e =>
                    {
                        var limit = entry.Engine.MaxConcurrentSequences;
                        e.ConcurrentMessageLimit = limit;
                        e.PrefetchCount = limit;
                        e.ConfigureConsumer<GenerateImageTokensConsumer>(context);
                    });
                    cfg.ReceiveEndpoint(ImageTokenQueues.RoutingForModel(name), e => e.ConfigureConsumer<GetRoutingStatisticsConsumer>(context));
                }
            },
        });
        return builder;
    }
}

internal sealed class MoeEnginesHealthCheck(MoeEngines engines) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(engines.Loaded
            ? HealthCheckResult.Healthy($"Loaded: {string.Join(", ", engines.Models.Keys)}")
            : HealthCheckResult.Unhealthy("MoE models are still loading."));
}
