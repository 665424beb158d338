using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Platform.Inference.Constraints;
using Platform.Inference.Engine;
using Platform.Inference.Models;

namespace Platform.Bench.Constrained;

/// <summary>
/// The cost of constrained decoding per generated token, on the engine users get: the same requests (same seeds)
/// decoded with and without a JSON-schema grammar, and the mask alone (trie walk + logits add) replayed over the
/// constrained outputs. Models: the shipped demo model (858-token vocabulary) and a tiny random one (512).
/// </summary>
public static class ConstrainedBenchmark
{
    private const string Schema = """
        {"type":"object","properties":{
          "name":{"type":"string","maxLength":12},"age":{"type":"integer"},"score":{"type":"number"},"ok":{"type":"boolean"},
          "role":{"enum":["user","admin","guest"]},"tags":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":4},
          "pos":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},"required":["x","y"],"additionalProperties":false}
        },"required":["name","age","score","ok","role","tags","pos"],"additionalProperties":false}
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        int seeds = 16, threads = Math.Min(2, Environment.ProcessorCount);
        string? json = null;
        var models = new List<(string Name, string Folder)>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seeds" when i + 1 < args.Length && int.TryParse(args[i + 1], out var s) && s > 0: seeds = s; i++; break;
                case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], out var t) && t > 0: threads = t; i++; break;
                case "--json" when i + 1 < args.Length: json = args[++i]; break;
                case "--model" when i + 1 < args.Length: models.Add((Path.GetFileName(args[i + 1].TrimEnd('/')), args[++i])); break;
                default:
                    Console.Error.WriteLine($"constrained: unknown or incomplete option '{args[i]}'");
                    return 2;
            }
        }
        if (models.Count == 0)
        {
            if (FindRepoFile("models/demo") is { } demo) models.Add(("demo", demo));
            var tiny = Path.Combine(Path.GetTempPath(), "platform-bench", "constrained-tiny");
            if (!File.Exists(Path.Combine(tiny, "config.json"))) TinyModelFactory.Create(tiny, TinyModelFactory.TinyConfig(), seed: 1);
            models.Add(("tiny-random", tiny));
        }
        var results = new Dictionary<string, object>();
        foreach (var (name, folder) in models) results[name] = await MeasureAsync(name, folder, seeds, threads);
        if (json is not null) await File.WriteAllTextAsync(json, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static async Task<object> MeasureAsync(string name, string folder, int seeds, int threads)
    {
        await using var engine = TextEngine.Load(name, folder, new EngineOptions { Threads = threads, MaxConcurrentSequences = 1, MaxContextTokens = 1024 });
        var grammar = Grammar.Json(JsonSchemaCompiler.Compile(Schema));
        GenerationRequest Request(ulong seed, Grammar? g, int max) => new()
        {
            Messages = [new ChatMessage("user", "Describe a person as JSON.")], MaxNewTokens = max, IgnoreEos = g is null,
            Sampling = new SamplingOptions { Temperature = 1f, Seed = seed }, Grammar = g,
        };
        // Warm-up (JIT, first allocations) on both paths.
        await Run(engine, Request(999, grammar, 64));
        await Run(engine, Request(999, null, 64));

        long constrainedTicks = 0, plainTicks = 0;
        int constrainedTokens = 0, plainTokens = 0, valid = 0;
        var outputs = new List<int[]>();
        for (int s = 0; s < seeds; s++)
        {
            var (ids, text, ticks) = await Run(engine, Request((ulong)s, grammar, 800));
            constrainedTicks += ticks; constrainedTokens += ids.Length;
            outputs.Add(ids);
            try { using var _ = JsonDocument.Parse(text); valid++; } catch (JsonException) { }
            // The same number of tokens without the grammar (ignore_eos), same seed.
            var (pids, _, pticks) = await Run(engine, Request((ulong)s, null, Math.Max(1, ids.Length)));
            plainTicks += pticks; plainTokens += pids.Length;
        }

        // The mask alone, replayed over the constrained outputs: trie walk, bias row, add onto a logits row.
        var tok = engine.Model.Tokenizer;
        var stops = engine.Model.EosTokenIds.ToArray();
        using var logits = TorchSharp.torch.zeros(engine.Model.Config.VocabSize);
        long maskTicks = 0, nodes = 0, allowed = 0;
        int steps = 0;
        foreach (var ids in outputs)
        {
            var c = new TokenConstraint(grammar, tok, stops);
            foreach (var id in ids)
            {
                if (c.IsComplete || stops.Contains(id)) break;
                var t0 = Stopwatch.GetTimestamp();
                c.Mask(logits);
                maskTicks += Stopwatch.GetTimestamp() - t0;
                allowed += c.AllowedTokens().Count;
                c.Advance(id);
                steps++;
            }
            nodes += c.VisitedNodes;
        }
        nodes /= 2;   // AllowedTokens was walked twice per step (once in Mask, once to count)
        double Ms(long ticks, int n) => n == 0 ? 0 : ticks * 1000.0 / Stopwatch.Frequency / n;
        var r = new
        {
            vocabulary = tok.VocabSize,
            trie_nodes = TokenTrie.For(tok).NodeCount,
            seeds,
            valid_json = valid,
            constrained_ms_per_token = Ms(constrainedTicks, constrainedTokens),
            plain_ms_per_token = Ms(plainTicks, plainTokens),
            mask_ms_per_token = Ms(maskTicks, steps),
            trie_nodes_visited_per_token = steps == 0 ? 0 : (double)nodes / steps,
            allowed_tokens_per_step = steps == 0 ? 0 : (double)allowed / steps,
            tokens = constrainedTokens,
        };
        Console.WriteLine($"{name}: vocabulary {r.vocabulary} ({r.trie_nodes} trie nodes), {seeds} seeds, {valid}/{seeds} outputs parse, {constrainedTokens} tokens");
        Console.WriteLine($"  engine decode: constrained {r.constrained_ms_per_token:F3} ms/token, unconstrained {r.plain_ms_per_token:F3} ms/token " +
                          $"(ratio {(r.plain_ms_per_token > 0 ? r.constrained_ms_per_token / r.plain_ms_per_token : 0):F2}x)");
        Console.WriteLine($"  mask alone: {r.mask_ms_per_token * 1000:F1} us/token, {r.trie_nodes_visited_per_token:F0} trie nodes visited, {r.allowed_tokens_per_step:F0} tokens allowed per step");
        return r;
    }

    private static async Task<(int[] Ids, string Text, long Ticks)> Run(ITextEngine engine, GenerationRequest request)
    {
        var ids = new List<int>();
        var text = new StringBuilder();
        long start = 0;
        await foreach (var u in engine.GenerateAsync(request, CancellationToken.None))
        {
            // Decode time only: from the first token (prefill excluded) to the last.
            if (start == 0) start = Stopwatch.GetTimestamp();
            ids.AddRange(u.TokenIds);
            text.Append(u.TextDelta);
        }
        return (ids.ToArray(), text.ToString(), Stopwatch.GetTimestamp() - start);
    }

    private static string? FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
