using Platform.Batch.Storage;
using Prometheus;

namespace Platform.Batch.Processing;

/// <summary>platform_batch_requests_total{status} (completed|failed, counted once per custom_id) and
/// platform_batches{status} (batches in the store by lifecycle status, refreshed by the coordinator).</summary>
public sealed class BatchMetrics
{
    public BatchMetrics(CollectorRegistry registry)
    {
        var factory = Metrics.WithCustomRegistry(registry);
        Requests = factory.CreateCounter("platform_batch_requests_total", "Batch request lines finished, by outcome.", ["status"]);
        Batches = factory.CreateGauge("platform_batches", "Batches in the store by status.", ["status"]);
        foreach (var status in BatchStatus.All) Batches.WithLabels(status).Set(0);
        Requests.WithLabels("completed");
        Requests.WithLabels("failed");
    }

    public Counter Requests { get; }
    public Gauge Batches { get; }

    public void SetBatchCounts(IReadOnlyDictionary<string, long> counts)
    {
        foreach (var status in BatchStatus.All)
            Batches.WithLabels(status).Set(counts.TryGetValue(status, out var n) ? n : 0);
    }
}
