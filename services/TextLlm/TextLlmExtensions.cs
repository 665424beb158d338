using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Bus;
using Platform.ServiceDefaults.Models;
using TextLlm.Announcements;
using TextLlm.Generation;
using TextLlm.Models;

namespace TextLlm;

public static class TextLlmExtensions
{
    public const string SettingsFile = "textllm.settings.json";

    /// <summary>
    /// The text worker: loads the models of the registry (Models:{name}) at start, consumes each model's queue with a
    /// ConcurrentMessageLimit of its engine's MaxConcurrentSequences, streams chunks back, announces its models.
    /// Works in its own process or inside the gateway (all-in-one). Call before AddPlatformBus.
    /// </summary>
    public static IHostApplicationBuilder AddTextLlmWorker(this IHostApplicationBuilder builder)
    {
        // Before the first torch call: a short OpenMP spin, or idle libgomp workers steal the cores on shared hosts.
        Platform.Inference.Runtime.OpenMpEnvironment.ApplyDefaults();
        builder.Services.AddOptions<TextLlmOptions>().Bind(builder.Configuration.GetSection(TextLlmOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        var registry = builder.Configuration.GetSection("Models").Get<Dictionary<string, ModelEntry>>() ?? [];
        builder.Services.AddSingleton<IReadOnlyDictionary<string, ModelEntry>>(registry);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<WorkerIdentity>();
        builder.Services.AddSingleton<ActiveGenerations>();
        builder.Services.AddSingleton<EngineHost>();
        // Registered before the bus (AddPlatformBus comes later), so models are loaded before any message is consumed.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EngineHost>());
        builder.Services.AddHostedService<EngineMetrics>();
        builder.Services.AddHostedService<CancellationListener>();
        builder.Services.AddSingleton<ModelAnnouncer<EngineHost>>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ModelAnnouncer<EngineHost>>());
        builder.Services.AddHealthChecks().AddCheck<EnginesHealthCheck>("engines", tags: [ServiceDefaultsExtensions.ReadyTag]);

        var textOptions = builder.Configuration.GetSection(TextLlmOptions.Section).Get<TextLlmOptions>() ?? new TextLlmOptions();
        var served = EngineHost.Served(registry, textOptions);
        builder.AddBusContribution(new BusContribution
        {
            Register = x =>
            {
                x.AddConsumer<GenerateChatCompletionConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<TextLlm.Embeddings.CreateEmbeddingsConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<ModelsAnnouncementRequestedConsumer>().Endpoint(e =>
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
                        e.ConfigureConsumer<GenerateChatCompletionConsumer>(context);
                        // Embeddings share the model's queue (and its concurrency limit) with generations.
                        e.ConfigureConsumer<TextLlm.Embeddings.CreateEmbeddingsConsumer>(context);
                    });
                }
            },
        });
        return builder;
    }
}

internal sealed class EnginesHealthCheck(EngineHost engines) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(engines.Loaded
            ? HealthCheckResult.Healthy($"Loaded: {string.Join(", ", engines.Engines.Keys)}")
            : HealthCheckResult.Unhealthy("Models are still loading."));
}
