using ImageGen.Consumers;
using ImageGen.Models;
using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Platform.Contracts.Images;
using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Bus;

namespace ImageGen;

public static class ImageGenExtensions
{
    public const string SettingsFile = "imagegen.settings.json";

    /// <summary>
    /// The image service: loads the multimodal parts of the registry's multimodal models (Models:{name} with
    /// Multimodal = true) at start and consumes one queue per model (<see cref="ImageQueues.ForModel"/>) with
    /// <see cref="EncodeImage"/> (input images -> visual tokens) and <see cref="ProduceImage"/> ([IMG] slots -> PNG).
    /// Works in its own process or inside the gateway (all-in-one). Call before AddPlatformBus.
    /// </summary>
    public static IHostApplicationBuilder AddImageGenWorker(this IHostApplicationBuilder builder)
    {
        // Before the first torch call: a short OpenMP spin, or idle libgomp workers steal the cores on shared hosts.
        Platform.Inference.Runtime.OpenMpEnvironment.ApplyDefaults();
        builder.Services.AddOptions<ImageGenOptions>().Bind(builder.Configuration.GetSection(ImageGenOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        var registry = builder.Configuration.GetSection("Models").Get<Dictionary<string, MultimodalModelEntry>>() ?? [];
        builder.Services.AddSingleton<IReadOnlyDictionary<string, MultimodalModelEntry>>(registry);
        builder.Services.AddSingleton<ImageModelHost>();
        // Registered before the bus (AddPlatformBus comes later), so models are loaded before any message is consumed.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ImageModelHost>());
        builder.Services.AddHealthChecks().AddCheck<ImageModelsHealthCheck>("image-models", tags: [ServiceDefaultsExtensions.ReadyTag]);

        var options = builder.Configuration.GetSection(ImageGenOptions.Section).Get<ImageGenOptions>() ?? new ImageGenOptions();
        var served = ImageModelHost.Served(registry, options);
        builder.AddBusContribution(new BusContribution
        {
            Register = x =>
            {
                x.AddConsumer<EncodeImageConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<ProduceImageConsumer>().ExcludeFromConfigureEndpoints();
            },
            Configure = (context, cfg) =>
            {
                var limit = context.GetRequiredService<IOptions<ImageGenOptions>>().Value.MaxConcurrentRequests;
                foreach (var (name, _) in served)
                {
                    cfg.ReceiveEndpoint(ImageQueues.ForModel(name), e =>
                    {
                        e.ConcurrentMessageLimit = limit;
                        e.PrefetchCount = limit;
                        e.ConfigureConsumer<EncodeImageConsumer>(context);
                        e.ConfigureConsumer<ProduceImageConsumer>(context);
                    });
                }
            },
        });
        return builder;
    }
}

/// <summary>Ready once the served models are loaded; names them and the decoder's device.</summary>
internal sealed class ImageModelsHealthCheck(ImageModelHost host, IOptions<ImageGenOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!host.Loaded
            ? HealthCheckResult.Unhealthy("Multimodal models are still loading.")
            : host.Models.Count == 0
                ? HealthCheckResult.Healthy("No multimodal model configured.")
                : HealthCheckResult.Healthy($"Loaded: {string.Join(", ", host.Models.Keys)} (decoder on {options.Value.DecoderDevice})",
                    host.Models.ToDictionary(kv => kv.Key, kv => (object)$"{kv.Value.Config.ImageSize}x{kv.Value.Config.ImageSize}, gallery {kv.Value.GallerySize}")));
}
