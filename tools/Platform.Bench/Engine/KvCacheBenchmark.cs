using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Platform.Inference.Engine;
using Platform.Inference.Models;

namespace Platform.Bench.Engine;

/// <summary>
/// <c>kv</c>: the paged KV cache on a SmolLM-135M-shaped random model whose config says a 32k-token context:
/// the KV memory the engine holds at start (against what slots x context would take), and the time to first token
/// of a request whose long prefix another request prefilled just before (prefix cache warm) against the same
/// request shape with a prefix never seen (cold). Each round uses a new prefix; medians over the rounds.
/// </summary>
internal static class KvCacheBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        int threads = 2, slots = 8, context = 32_768, prefix = 1024, suffix = 16, rounds = 3;
        string work = Path.Combine(Path.GetTempPath(), "platform-bench");
        string? json = null;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Positive() { var n = int.Parse(Value(), CultureInfo.InvariantCulture); return n > 0 ? n : throw new ArgumentException($"{args[i - 1]} must be positive"); }
                switch (args[i])
                {
                    case "--threads": threads = Positive(); break;
                    case "--slots": slots = Positive(); break;
                    case "--context": context = Positive(); break;
                    case "--prefix": prefix = Positive(); break;
                    case "--rounds": rounds = Positive(); break;
                    case "--work": work = Value(); break;
                    case "--json": json = Value(); break;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            if (prefix + suffix + 2 > context) throw new ArgumentException($"--prefix {prefix} does not fit the {context}-token context");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"kv: {e.Message}");
            return 2;
        }

        var config = TinyModelFactory.SmolLM135MConfig() with { MaxPositionEmbeddings = context };
        string folder = Path.Combine(work, $"smollm-135m-random-ctx{context}");
        if (!File.Exists(Path.Combine(folder, "model.safetensors")))
        {
            Console.WriteLine($"creating {folder} (SmolLM-135M shape, max_position_embeddings {context}, random float32 weights) ...");
            TinyModelFactory.Create(folder, config, seed: 0);
        }
        var options = new EngineOptions { Threads = threads, MaxConcurrentSequences = slots, MaxWaitingRequests = 16, PrefillChunkTokens = 512 };
        await using var engine = TextEngine.Load("bench", folder, options);
        long perToken = KvCache.BlockBytes(config.NumHiddenLayers, config.KeyValueHeads, config.HeadDimension, 1);
        double atStartMiB = engine.KvCacheBytes / 1048576.0, boundMiB = engine.KvCacheMaxBytes / 1048576.0;
        double contiguousMiB = (double)slots * context * perToken / 1048576.0;
        Console.WriteLine($"{slots} slots x {engine.MaxContextTokens} tokens, {threads} threads; KV {perToken} bytes a token");
        Console.WriteLine($"KV cache at start {atStartMiB:F1} MiB; bound {boundMiB:F0} MiB ({engine.KvCacheMaxBlocks} blocks); slots x context would be {contiguousMiB:F0} MiB");

        var rng = new Random(7);
        int[] Random(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(10, config.VocabSize)).ToArray();
        await FirstTokenMs(engine, Random(64));   // warm-up (JIT, allocations)
        var cold = new List<double>();
        var warm = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            var shared = Random(prefix);
            cold.Add(await FirstTokenMs(engine, [.. shared, .. Random(suffix)]));
            warm.Add(await FirstTokenMs(engine, [.. shared, .. Random(suffix)]));
            Console.WriteLine($"  round {r + 1}: {prefix}+{suffix} tokens, first token cold {cold[^1]:F0} ms, warm {warm[^1]:F0} ms");
        }
        double coldMs = Median(cold), warmMs = Median(warm);
        var stats = engine.Stats;
        Console.WriteLine($"time to first token, {prefix}-token shared prefix: cold {coldMs:F0} ms, warm {warmMs:F0} ms (median of {rounds}) -> {coldMs / warmMs:F1}x");
        Console.WriteLine($"prefix cache: {stats.PrefixCacheHitTokens} of {stats.PrefixCacheQueryTokens} prompt tokens hit; KV cache now {engine.KvCacheBytes / 1048576.0:F1} MiB");
        if (json is not null)
        {
            var result = new Dictionary<string, object>
            {
                ["context_tokens"] = engine.MaxContextTokens, ["slots"] = slots, ["threads"] = threads,
                ["kv_cache_mb_at_start"] = Math.Round(atStartMiB, 2), ["kv_cache_bound_mb"] = Math.Round(boundMiB, 1),
                ["kv_cache_slots_x_context_mb"] = Math.Round(contiguousMiB, 1),
                ["prefix_tokens"] = prefix, ["ttft_cold_ms"] = Math.Round(coldMs, 1), ["ttft_warm_ms"] = Math.Round(warmMs, 1),
                ["ttft_cold_over_warm"] = Math.Round(coldMs / warmMs, 2),
                ["prefix_cache_queries"] = stats.PrefixCacheQueryTokens, ["prefix_cache_hits"] = stats.PrefixCacheHitTokens,
            };
            File.WriteAllText(json, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }

    private static async Task<double> FirstTokenMs(ITextEngine engine, int[] prompt)
    {
        var sw = Stopwatch.StartNew();
        double first = double.NaN;
        await foreach (var u in engine.GenerateAsync(new GenerationRequest { PromptTokens = prompt, MaxNewTokens = 1, Sampling = SamplingOptions.Greedy, IgnoreEos = true }, CancellationToken.None))
            if (u.CompletionTokens > 0 && double.IsNaN(first)) first = sw.Elapsed.TotalMilliseconds;
        return first;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
