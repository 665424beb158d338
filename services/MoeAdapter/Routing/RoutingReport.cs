using Platform.Contracts.Moe;
using Platform.Inference.Models.Moe;

namespace MoeAdapter.Routing;

/// <summary>The engine's <see cref="ModalityRoutingStatistics"/> of a model as the bus message that reports them.</summary>
public static class RoutingReport
{
    public static RoutingStatisticsReported From(Guid requestId, string model, string workerId, ModalityRoutingStatistics stats, int topK,
        double specificThreshold)
    {
        var layers = stats.SummariseAll(specificThreshold).Select(l => new LayerRouting(
            l.Layer, l.TextTokens, l.ImageTokens,
            Enumerable.Range(0, stats.Experts).Select(e => new ExpertRouting(e,
                stats.Count(l.Layer, Modality.Text, e), stats.Count(l.Layer, Modality.Image, e),
                l.TextShare[e], l.ImageShare[e], Defined(l.ImageFraction[e]))).ToList(),
            // An empty distribution has entropy 0 by the formula; with no tokens of a modality it is undefined.
            l.TextTokens > 0 ? l.TextEntropyBits : null,
            l.ImageTokens > 0 ? l.ImageEntropyBits : null,
            Defined(l.JensenShannonBits), l.ImageSpecific, l.TextSpecific)).ToList();
        return new RoutingStatisticsReported(requestId, model, workerId, stats.Experts, topK, specificThreshold, layers);
    }

    // JSON has no NaN: an undefined value travels as null.
    private static double? Defined(double x) => double.IsFinite(x) ? x : null;
}
