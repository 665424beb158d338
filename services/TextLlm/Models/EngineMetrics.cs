using Prometheus;

namespace TextLlm.Models;

/// <summary>
/// The worker's own view of its engines on /metrics, read from each engine's <see cref="Platform.Inference.Engine.EngineStats"/>
/// at scrape time (vLLM's vllm:num_requests_running / _waiting and token counters, measured in the engine, not at
/// the router): with several gateways in front of one worker, only these show what the worker itself is doing. The
/// paged KV cache's usage and the prefix cache's queries and hits carry vLLM's names with the platform_ prefix.
/// </summary>
public sealed class EngineMetrics : IHostedService
{
    public EngineMetrics(CollectorRegistry registry, EngineHost engines)
    {
        var f = Metrics.WithCustomRegistry(registry);
        string[] labels = ["model_name"];
        var running = f.CreateGauge("platform_engine_num_requests_running", "Sequences the engine is generating (prefill or decode).", labels);
        var waiting = f.CreateGauge("platform_engine_num_requests_waiting", "Sequences admitted to the engine and waiting for a slot.", labels);
        var prompt = f.CreateCounter("platform_engine_prompt_tokens_total", "Prompt tokens the engine processed.", labels);
        var generation = f.CreateCounter("platform_engine_generation_tokens_total", "Tokens the engine generated.", labels);
        // vLLM's vllm:kv_cache_usage_perc, vllm:prefix_cache_queries and vllm:prefix_cache_hits (in tokens, as vLLM),
        // vllm:num_preemptions.
        var kvUsage = f.CreateGauge("platform_kv_cache_usage_perc", "KV cache usage: fraction of the paged cache's block bound held by running sequences (1 = full).", labels);
        var prefixQueries = f.CreateCounter("platform_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", labels);
        var prefixHits = f.CreateCounter("platform_prefix_cache_hits_total", "Prompt tokens served from the prefix cache (not prefilled).", labels);
        var preemptions = f.CreateCounter("platform_num_preemptions_total", "Sequences preempted (KV blocks taken back, recomputed later) because the KV cache was full.", labels);
        registry.AddBeforeCollectCallback(() =>
        {
            if (!engines.Loaded) return;
            foreach (var (name, engine) in engines.Engines)
            {
                var s = engine.Stats;
                running.WithLabels(name).Set(s.Running);
                waiting.WithLabels(name).Set(s.Waiting);
                prompt.WithLabels(name).IncTo(s.PromptTokensTotal);
                generation.WithLabels(name).IncTo(s.GenerationTokensTotal);
                kvUsage.WithLabels(name).Set(s.KvCacheUsage);
                prefixQueries.WithLabels(name).IncTo(s.PrefixCacheQueryTokens);
                prefixHits.WithLabels(name).IncTo(s.PrefixCacheHitTokens);
                preemptions.WithLabels(name).IncTo(s.Preemptions);
            }
        });
    }

    // A hosted service only so that the host creates it (and registers the scrape callback) at start.
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
