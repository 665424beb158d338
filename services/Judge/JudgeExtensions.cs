using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Platform.Contracts.Judge;
using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Bus;
using Platform.ServiceDefaults.Models;
using Judge.Announcements;
using Judge.Consumers;
using Judge.Models;
using TextLlm.Models;

namespace Judge;

public static class JudgeExtensions
{
    public const string SettingsFile = "judge.settings.json";

    /// <summary>
    /// The judge worker: loads the judge models of the registry (Models:{name} with Kind "judge") at start, consumes each
    /// one's queue (judge-{model}) as a competing consumer with a ConcurrentMessageLimit of its engine's
    /// MaxConcurrentSequences, and announces them with the "judge" capability. Works in its own process or inside the
    /// gateway (all-in-one). Call before AddPlatformBus.
    /// </summary>
    /// <param name="requireModels">False inside the all-in-one gateway: with no judge model configured the worker is
    /// simply not added; its own process (true) refuses to start without one.</param>
    public static IHostApplicationBuilder AddJudgeWorker(this IHostApplicationBuilder builder, bool requireModels = true)
    {
        var configured = builder.Configuration.GetSection("Models").Get<Dictionary<string, ModelEntry>>() ?? [];
        var chosen = builder.Configuration.GetSection(JudgeOptions.Section).Get<JudgeOptions>() ?? new JudgeOptions();
        if (!requireModels && JudgeEngines.Served(configured, chosen).Count == 0) return builder;
        Platform.Inference.Runtime.OpenMpEnvironment.ApplyDefaults();
        builder.Services.AddOptions<JudgeOptions>().Bind(builder.Configuration.GetSection(JudgeOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        var registry = builder.Configuration.GetSection("Models").Get<Dictionary<string, ModelEntry>>() ?? [];
        // The text worker registers the same registry when it shares the process; both read one section.
        builder.Services.AddSingleton<IReadOnlyDictionary<string, ModelEntry>>(registry);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<JudgeEngines>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<JudgeEngines>());
        builder.Services.AddSingleton<ModelAnnouncer<JudgeEngines>>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ModelAnnouncer<JudgeEngines>>());
        builder.Services.AddHealthChecks().AddCheck<JudgeEnginesHealthCheck>("judge-engines", tags: [ServiceDefaultsExtensions.ReadyTag]);

        var judgeOptions = builder.Configuration.GetSection(JudgeOptions.Section).Get<JudgeOptions>() ?? new JudgeOptions();
        var served = JudgeEngines.Served(registry, judgeOptions);
        builder.AddBusContribution(new BusContribution
        {
            Register = x =>
            {
                x.AddConsumer<RateResponseConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<CompareResponsesConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<JudgeAnnouncementRequestedConsumer>().Endpoint(e =>
                {
                    e.Temporary = true;
                    e.InstanceId = BusExtensions.InstanceSuffix;
                });
            },
            Configure = (context, cfg) =>
            {
                foreach (var (name, entry) in served)
                {
                    cfg.ReceiveEndpoint(JudgeQueues.ForModel(name), e =>
                    {
                        var limit = entry.Engine.MaxConcurrentSequences;
                        e.ConcurrentMessageLimit = limit;
                        e.PrefetchCount = limit;
                        e.ConfigureConsumer<RateResponseConsumer>(context);
                        e.ConfigureConsumer<CompareResponsesConsumer>(context);
                    });
                }
            },
        });
        return builder;
    }
}

internal sealed class JudgeEnginesHealthCheck(JudgeEngines engines) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(engines.Loaded
            ? HealthCheckResult.Healthy($"Loaded: {string.Join(", ", engines.Runners.Keys)}")
            : HealthCheckResult.Unhealthy("Judge models are still loading."));
}
