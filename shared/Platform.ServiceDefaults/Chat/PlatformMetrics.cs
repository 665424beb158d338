using Prometheus;

namespace Platform.ServiceDefaults.Chat;

/// <summary>
/// Request metrics named after vLLM's (vllm:time_to_first_token_seconds ...) with a platform_ prefix, measured where
/// the client sees them: at the router, so they include the bus.
/// </summary>
public sealed class PlatformMetrics
{
    private static readonly double[] LatencyBuckets =
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
    private static readonly double[] TokenLatencyBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];

    public PlatformMetrics(CollectorRegistry registry)
    {
        var f = Metrics.WithCustomRegistry(registry);
        string[] labels = ["model_name"];
        TimeToFirstToken = f.CreateHistogram("platform_time_to_first_token_seconds", "Time to first token in seconds.",
            labels, new HistogramConfiguration { Buckets = LatencyBuckets });
        InterTokenLatency = f.CreateHistogram("platform_inter_token_latency_seconds",
            "Time per output token after the first, in seconds (vLLM: time_per_output_token).",
            labels, new HistogramConfiguration { Buckets = TokenLatencyBuckets });
        EndToEnd = f.CreateHistogram("platform_e2e_request_latency_seconds", "End-to-end request latency in seconds.",
            labels, new HistogramConfiguration { Buckets = LatencyBuckets });
        QueueTime = f.CreateHistogram("platform_request_queue_time_seconds",
            "Time from sending a request until a worker accepted it, in seconds.",
            labels, new HistogramConfiguration { Buckets = LatencyBuckets });
        Running = f.CreateGauge("platform_num_requests_running", "Requests accepted by a worker and generating.", labels);
        Waiting = f.CreateGauge("platform_num_requests_waiting", "Requests sent and waiting for a worker.", labels);
        PromptTokens = f.CreateCounter("platform_prompt_tokens_total", "Prompt tokens processed.", labels);
        GenerationTokens = f.CreateCounter("platform_generation_tokens_total", "Generation tokens produced.", labels);
    }

    public Histogram TimeToFirstToken { get; }
    public Histogram InterTokenLatency { get; }
    public Histogram EndToEnd { get; }
    public Histogram QueueTime { get; }
    public Gauge Running { get; }
    public Gauge Waiting { get; }
    public Counter PromptTokens { get; }
    public Counter GenerationTokens { get; }
}
