using MoeAdapter.Models;
using Platform.Inference.Models.Moe;
using Prometheus;

namespace MoeAdapter.Routing;

/// <summary>
/// The routers' work on /metrics, read from each model's <see cref="ModalityRoutingStatistics"/> at scrape time:
/// platform_moe_routed_tokens_total counts the tokens each layer routed, by modality, and
/// platform_moe_expert_tokens_total the (token, top-k slot) pairs it sent to each expert, by modality. Prompt and
/// generated tokens both count; a token is an image token when its id is one of the adapter's image tokens.
/// </summary>
public sealed class RoutingMetrics : IHostedService
{
    public RoutingMetrics(CollectorRegistry registry, MoeEngines engines)
    {
        var f = Metrics.WithCustomRegistry(registry);
        var tokens = f.CreateCounter("platform_moe_routed_tokens_total", "Tokens an MoE layer routed, by modality (each token once).",
            ["model_name", "layer", "modality"]);
        var slots = f.CreateCounter("platform_moe_expert_tokens_total", "(token, top-k slot) pairs an MoE layer sent to an expert, by modality.",
            ["model_name", "layer", "expert", "modality"]);
        registry.AddBeforeCollectCallback(() =>
        {
            if (!engines.Loaded) return;
            foreach (var (name, model) in engines.Models)
            {
                if (model.Engine.Model.Routing is not { } stats) continue;
                for (int layer = 0; layer < stats.Layers; layer++)
                    foreach (var modality in (Modality[])[Modality.Text, Modality.Image])
                    {
                        var (l, m) = (layer.ToString(System.Globalization.CultureInfo.InvariantCulture), Label(modality));
                        tokens.WithLabels(name, l, m).IncTo(stats.Tokens(layer, modality));
                        for (int e = 0; e < stats.Experts; e++)
                            slots.WithLabels(name, l, e.ToString(System.Globalization.CultureInfo.InvariantCulture), m).IncTo(stats.Count(layer, modality, e));
                    }
            }
        });
    }

    public static string Label(Modality modality) => modality == Modality.Image ? "image" : "text";

    // A hosted service only so that the host creates it (and registers the scrape callback) at start.
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
