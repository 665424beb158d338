using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Platform.Inference.Engine;
using Platform.Inference.Gguf;
using Platform.Inference.Models;
using Platform.Inference.Quantization;
using Platform.Inference.Tokenization;

namespace Platform.Bench.Engine;

/// <summary>
/// <c>engine</c>: our TorchSharp engine against llama.cpp (LLamaSharp 0.30.0, CPU backend) on the same random
/// float32 weights in SmolLM-135M's shape, same thread count. Measures single-stream greedy decode, prefill,
/// 16-stream aggregate decode through our continuous-batching scheduler, the memory-bandwidth bound for
/// single-stream decode, peak RSS, and the logit difference between the two on the same tokens.
/// Each timing is repeated; the best run is reported with the spread (other processes share the CPU).
/// </summary>
internal static class EngineBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        EngineBenchmarkOptions o;
        try { o = EngineBenchmarkOptions.Parse(args); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"engine: {e.Message}");
            return 2;
        }

        var (folder, f32Gguf) = PrepareModel(o);
        // Quantized runs: both engines load the same file, written by llama.cpp's own quantizer.
        string gguf = o.Quantization == QuantType.None ? f32Gguf : PrepareQuantized(f32Gguf, o.Quantization);
        string q = QuantTypes.Name(o.Quantization);
        string Key(string name) => o.Quantization == QuantType.None ? name
            : name == "max_rel_logit_diff" ? $"{name}_{q}" : name.Replace("ours_", $"ours_{q}_").Replace("llamacpp_", $"llamacpp_{q}_");
        var tokenizer = TokenizerLoader.Load(folder);
        var corpus = CorpusTokens(tokenizer, o.PrefillTokens + o.Streams * 16 + o.BatchedPromptTokens);
        var ggufFile = GgufReader.Open(gguf);
        var weightBytes = ggufFile.Tensors.Sum(t => (long)t.ByteCount);
        // A decoded token reads every weight once, except a Mixture-of-Experts layer's experts: only its top-k of E.
        var activeBytes = BenchModels.ActiveBytesPerToken(o.Model, ggufFile);

        var bw = (CopyGBs: double.NaN, TriadGBs: double.NaN);
        double readGBs = double.NaN, boundTokS = double.NaN;
        if (!o.ParityOnly)
        {
            Console.WriteLine($"memory bandwidth ({o.Threads} threads, 3 x 256 MiB arrays; a read-only pass over {weightBytes / 1048576.0:F0} MiB) ...");
            var measured = MemoryBandwidth.Measure(o.Threads);
            bw = (measured.CopyGBs, measured.TriadGBs);
            // Decode reads every weight once per token (a Mixture-of-Experts layer only its top-k experts) and writes almost
            // nothing: the bound is a read-only pass over a buffer the size of the weights (STREAM's triad also writes).
            readGBs = MemoryBandwidth.MeasureRead(o.Threads, Math.Max(weightBytes, 64L << 20));
            boundTokS = readGBs * 1e9 / activeBytes;
            Console.WriteLine($"  copy {bw.CopyGBs:F1} GB/s, triad {bw.TriadGBs:F1} GB/s, read {readGBs:F1} GB/s; weights {weightBytes / 1048576.0:F0} MiB ({activeBytes / 1048576.0:F0} MiB read per token) -> bound {boundTokS:F1} tok/s");
        }

        // ---------------------------------------------------------------- ours
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        ProcessMemory.ResetPeak();
        var ours = new Timings();
        float[][] ourLogits, ourPrefillLogits;
        int[] ourGreedy;
        double oursPeakRss, kvCacheMiB;
        var parityTokens = corpus.Take(o.ParityTokens).ToArray();
        await using (var engine = TextEngine.Load("bench", o.Quantization == QuantType.None ? folder : gguf, new EngineOptions
        {
            Threads = o.Threads, MaxConcurrentSequences = o.Streams, MaxContextTokens = o.ContextTokens,
            MaxWaitingRequests = o.Streams, PrefillChunkTokens = o.PrefillTokens,
            // Every repeat sends the same prompt: with prefix caching the second prefill would only look its
            // blocks up (llama.cpp's side clears its cache between runs), and the benchmark measures compute.
            PrefixCaching = false,
        }))
        {
            kvCacheMiB = engine.KvCacheBytes / 1048576.0;   // before any request: what the engine holds at start
            Console.WriteLine($"ours: TorchSharp {o.Threads} threads, {o.Streams} slots x {o.ContextTokens} tokens, weights {q} ({Path.GetFileName(gguf)})");
            await RunOnce(engine, corpus.Take(16).ToArray(), 8);   // warm-up
            var decodePrompt = corpus.Take(o.DecodePromptTokens).ToArray();
            ourGreedy = [];
            if (o.ParityOnly) ourGreedy = (await RunOnce(engine, decodePrompt, o.DecodeNewTokens)).Tokens;
            for (int r = 0; r < Timed(o); r++)
            {
                var run = await RunOnce(engine, decodePrompt, o.DecodeNewTokens);
                ours.Decode.Add(run.DecodeTokS);
                ourGreedy = run.Tokens;
                if (run.Tokens.Length < o.DecodeNewTokens) Console.WriteLine($"  note: generation stopped early at {run.Tokens.Length} tokens ({run.Finish})");
            }
            Console.WriteLine($"  decode   {Summary(ours.Decode)} tok/s");
            var prefillPrompt = corpus.Take(o.PrefillTokens).ToArray();
            for (int r = 0; r < Timed(o); r++)
                ours.Prefill.Add(o.PrefillTokens / (await RunOnce(engine, prefillPrompt, 1)).FirstTokenSeconds);
            Console.WriteLine($"  prefill  {Summary(ours.Prefill)} tok/s");
            for (int r = 0; r < Timed(o); r++)
            {
                var sw = Stopwatch.StartNew();
                var runs = await Task.WhenAll(Enumerable.Range(0, o.Streams).Select(s =>
                    RunOnce(engine, corpus.Skip(s * 16).Take(o.BatchedPromptTokens).ToArray(), o.BatchedNewTokens, sw)));
                ours.Batched.Add(runs.Sum(x => x.Tokens.Length) / sw.Elapsed.TotalSeconds);
                ours.BatchedSteady.Add(SteadyDecodeRate(runs));
            }
            Console.WriteLine($"  batched  {Summary(ours.Batched)} tok/s aggregate over {o.Streams} streams (end to end, prefill included)");
            Console.WriteLine($"           {Summary(ours.BatchedSteady)} tok/s aggregate once all {o.Streams} streams decode");
            ourLogits = LogitParity.DecodeLogits(engine.Model.Model, parityTokens);
            ourPrefillLogits = LogitParity.OurLogits(engine.Model.Model, parityTokens);
            oursPeakRss = ProcessMemory.PeakRssMiB() ?? double.NaN;
        }

        // ---------------------------------------------------------------- llama.cpp, in its own process
        var peer = new Timings();
        double rel;
        Spreads spreads;
        int greedyAgree;
        {
            string logitsPath = Path.Combine(o.WorkDir, "peer-logits.f32"), decodeLogitsPath = Path.Combine(o.WorkDir, "peer-decode-logits.f32");
            var result = PeerProcess.Run(new PeerRequest(gguf, o.Threads, o.ContextTokens, Timed(o),
                corpus.Take(o.DecodePromptTokens).ToArray(), o.DecodeNewTokens, corpus.Take(o.PrefillTokens).ToArray(),
                Enumerable.Range(0, o.Streams).Select(s => corpus.Skip(s * 16).Take(o.BatchedPromptTokens).ToArray()).ToArray(),
                o.BatchedNewTokens, parityTokens, logitsPath, decodeLogitsPath), o.WorkDir);
            peer.Decode.AddRange(result.Decode);
            peer.Prefill.AddRange(result.Prefill);
            peer.BatchedSteady.AddRange(result.BatchedSteady);
            peer.Batched.AddRange(result.BatchedEndToEnd);
            var peerLogits = PeerProcess.ReadLogits(logitsPath, parityTokens.Length);
            var peerDecodeLogits = PeerProcess.ReadLogits(decodeLogitsPath, parityTokens.Length);
            rel = LogitParity.MaxRelativeDifference(ourLogits, peerLogits);
            // The same comparison path for path, and each engine's decode against its own batched forward: how far
            // apart float summation order alone puts two runs of one engine on the same weights.
            spreads = new Spreads(
                LogitParity.MaxRelativeDifference(ourLogits, peerDecodeLogits),
                LogitParity.MaxRelativeDifference(ourPrefillLogits, peerLogits),
                LogitParity.MaxRelativeDifference(ourLogits, ourPrefillLogits),
                LogitParity.MaxRelativeDifference(peerDecodeLogits, peerLogits));
            greedyAgree = ourGreedy.Zip(result.Greedy).TakeWhile(p => p.First == p.Second).Count();
        }

        if (o.ParityOnly)
        {
            PrintParity(o, rel, spreads, greedyAgree, ourGreedy.Length);
            if (o.JsonPath is { } parityPath)
                WriteJson(parityPath, new Dictionary<string, object?>
                {
                    ["greedy_tokens_agreeing"] = greedyAgree,
                    ["quantization"] = q, ["model"] = o.Model, ["threads"] = o.Threads, ["parity_positions"] = o.ParityTokens,
                }.WithParity(Key("max_rel_logit_diff"), rel, spreads));
            return 0;
        }
        PrintTable(o, ours, peer, boundTokS, readGBs, rel, spreads, oursPeakRss, greedyAgree, ourGreedy.Length, weightBytes);
        if (o.JsonPath is { } path)
        {
            var json = new Dictionary<string, object?>
            {
                [Key("ours_decode_tok_s")] = ours.Decode.Max(),
                [Key("llamacpp_decode_tok_s")] = peer.Decode.Max(),
                [Key("ours_prefill_tok_s")] = ours.Prefill.Max(),
                [Key("llamacpp_prefill_tok_s")] = peer.Prefill.Max(),
                // The issue's "aggregate decode tokens/s with 16 concurrent streams": the rate once all 16 decode.
                // End to end also contains the 16 prompts' prefill (2,048 tokens), reported under its own key.
                [Key("ours_batched16_tok_s")] = ours.BatchedSteady.Max(),
                [Key("ours_batched16_end_to_end_tok_s")] = ours.Batched.Max(),
                [Key("llamacpp_batched16_tok_s")] = peer.BatchedSteady.Max(),
                [Key("llamacpp_batched16_end_to_end_tok_s")] = peer.Batched.Max(),
                ["bandwidth_bound_decode_tok_s"] = boundTokS,
                ["read_gb_s"] = readGBs,
                ["kv_cache_mb_at_start"] = kvCacheMiB,
                ["quantization"] = q,
                ["peak_rss_mb"] = oursPeakRss,
                ["runs"] = new Dictionary<string, object>
                {
                    [Key("ours_decode_tok_s")] = ours.Decode, [Key("llamacpp_decode_tok_s")] = peer.Decode,
                    [Key("ours_prefill_tok_s")] = ours.Prefill, [Key("llamacpp_prefill_tok_s")] = peer.Prefill,
                    [Key("ours_batched16_tok_s")] = ours.BatchedSteady, [Key("ours_batched16_end_to_end_tok_s")] = ours.Batched,
                    [Key("llamacpp_batched16_tok_s")] = peer.BatchedSteady, [Key("llamacpp_batched16_end_to_end_tok_s")] = peer.Batched,
                },
                ["model"] = o.Model,
                ["active_weight_bytes_per_token"] = activeBytes,
                ["threads"] = o.Threads,
                ["quick"] = o.Quick,
                ["triad_gb_s"] = bw.TriadGBs,
                ["copy_gb_s"] = bw.CopyGBs,
                ["weight_bytes"] = weightBytes,
                ["greedy_tokens_agreeing"] = greedyAgree,
                ["decode_prompt_tokens"] = o.DecodePromptTokens,
                ["decode_new_tokens"] = o.DecodeNewTokens,
                ["prefill_tokens"] = o.PrefillTokens,
                ["streams"] = o.Streams,
            };
            WriteJson(path, json.WithParity(Key("max_rel_logit_diff"), rel, spreads));
        }
        return 0;
    }

    /// <summary>Timed repeats: none with <c>--parity-only</c>.</summary>
    private static int Timed(EngineBenchmarkOptions o) => o.ParityOnly ? 0 : o.Repeat;

    private static void WriteJson(string path, Dictionary<string, object?> json)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        Console.WriteLine($"wrote {path}");
    }

    /// <summary>The logit comparisons' JSON keys: <paramref name="key"/> (our decode vs llama.cpp's batch) and its
    /// path-for-path and within-engine companions.</summary>
    private static Dictionary<string, object?> WithParity(this Dictionary<string, object?> json, string key, double rel, Spreads spreads)
    {
        json[key] = rel;
        json[key + "_decode_vs_decode"] = spreads.DecodeVsDecode;
        json[key + "_prefill_vs_prefill"] = spreads.PrefillVsPrefill;
        json[key + "_ours_decode_vs_ours_prefill"] = spreads.OursSelf;
        json[key + "_llamacpp_decode_vs_llamacpp_prefill"] = spreads.PeerSelf;
        return json;
    }

    /// <summary>Max relative logit differences between the two engines' decode (one token per step) and batched
    /// (prefill) paths: across engines path for path, and within each engine.</summary>
    private sealed record Spreads(double DecodeVsDecode, double PrefillVsPrefill, double OursSelf, double PeerSelf);

    private sealed class Timings
    {
        public List<double> Decode { get; } = [];
        public List<double> Prefill { get; } = [];
        public List<double> Batched { get; } = [];
        public List<double> BatchedSteady { get; } = [];
    }

    /// <param name="Marks">(seconds since the shared clock started, completion tokens so far) per update.</param>
    private sealed record Run(int[] Tokens, double FirstTokenSeconds, double DecodeTokS, string? Finish, List<(double T, int Count)> Marks);

    /// <summary>One greedy request through the scheduler; decode rate = tokens after the first / time after the first.</summary>
    private static async Task<Run> RunOnce(ITextEngine engine, int[] prompt, int newTokens, Stopwatch? clock = null)
    {
        // IgnoreEos: every run produces exactly newTokens, like the llama.cpp side's fixed-count loop (a random model
        // may otherwise pick its end token early and shorten one side's run).
        var request = new GenerationRequest { PromptTokens = prompt, MaxNewTokens = newTokens, Sampling = SamplingOptions.Greedy, IgnoreEos = true };
        var sw = clock ?? Stopwatch.StartNew();
        double start = sw.Elapsed.TotalSeconds;
        var marks = new List<(double, int)>();
        double first = 0, last = 0;
        int firstCount = 0, lastCount = 0;
        string? finish = null;
        var tokens = new List<int>();
        await foreach (var u in engine.GenerateAsync(request, CancellationToken.None))
        {
            tokens.AddRange(u.TokenIds);
            double now = sw.Elapsed.TotalSeconds;
            if (u.CompletionTokens > 0 && firstCount == 0) { first = now; firstCount = u.CompletionTokens; }
            if (u.CompletionTokens > 0) { last = now; lastCount = u.CompletionTokens; marks.Add((now, u.CompletionTokens)); }
            finish = u.FinishReason ?? finish;
        }
        double rate = lastCount > firstCount ? (lastCount - firstCount) / (last - first) : double.NaN;
        return new Run(tokens.ToArray(), first - start, rate, finish, marks);
    }

    /// <summary>
    /// Aggregate decode rate once every stream is decoding: tokens produced after the last stream's first token,
    /// over the time from then to the last token (the prompts' prefill, interleaved with decoding, is excluded).
    /// </summary>
    private static double SteadyDecodeRate(IReadOnlyList<Run> runs)
    {
        double allStarted = runs.Max(r => r.Marks.Count > 0 ? r.Marks[0].T : double.MaxValue);
        double end = runs.Max(r => r.Marks.Count > 0 ? r.Marks[^1].T : 0);
        int tokens = runs.Sum(r => r.Marks.Count == 0 ? 0
            : r.Marks[^1].Count - r.Marks.Where(m => m.T <= allStarted).Select(m => m.Count).DefaultIfEmpty(0).Max());
        return end > allStarted ? tokens / (end - allStarted) : double.NaN;
    }

    /// <summary>The random model of the chosen shape (TinyModelFactory) and its GGUF export, reused across runs.</summary>
    private static (string Folder, string Gguf) PrepareModel(EngineBenchmarkOptions o)
    {
        var (name, config) = BenchModels.Get(o.Model);
        string folder = Path.Combine(o.WorkDir, name);
        string gguf = Path.Combine(o.WorkDir, name + ".f32.gguf");
        if (!File.Exists(Path.Combine(folder, "model.safetensors")))
        {
            var sw = Stopwatch.StartNew();
            Console.WriteLine($"creating {folder} ({BenchModels.Describe(o.Model)}, random float32 weights) ...");
            TinyModelFactory.Create(folder, config, seed: 0);
            Console.WriteLine($"  {sw.Elapsed.TotalSeconds:F1} s");
        }
        if (!File.Exists(gguf) || File.GetLastWriteTimeUtc(gguf) < File.GetLastWriteTimeUtc(Path.Combine(folder, "model.safetensors")))
        {
            var sw = Stopwatch.StartNew();
            var r = HfGgufExporter.ExportFolder(folder, gguf);
            Console.WriteLine($"exported {r.Path} ({r.FileBytes / 1048576.0:F0} MiB) in {sw.Elapsed.TotalSeconds:F1} s");
        }
        return (folder, gguf);
    }

    /// <summary>The f32 file quantized by llama.cpp's own quantizer (llama_model_quantize through LLamaSharp), reused across runs.</summary>
    private static string PrepareQuantized(string f32Gguf, QuantType type)
    {
        string path = f32Gguf.Replace(".f32.gguf", $".{QuantTypes.Name(type)}.gguf", StringComparison.Ordinal);
        if (File.Exists(path) && File.GetLastWriteTimeUtc(path) >= File.GetLastWriteTimeUtc(f32Gguf)) return path;
        var sw = Stopwatch.StartNew();
        LLama.Native.NativeApi.llama_empty_call();   // loads the native library before the quantizer's first call
        var ftype = type == QuantType.Q8_0 ? LLama.Native.LLamaFtype.MOSTLY_Q8_0 : LLama.Native.LLamaFtype.MOSTLY_Q4_0;
        if (!LLama.LLamaQuantizer.Quantize(f32Gguf, path, ftype))
            throw new InvalidOperationException($"llama.cpp could not quantize {f32Gguf} to {type}");
        Console.WriteLine($"quantized {path} with llama.cpp's quantizer ({new FileInfo(path).Length / 1048576.0:F0} MiB) in {sw.Elapsed.TotalSeconds:F1} s");
        return path;
    }

    /// <summary>Real text tokens: the factory's corpus encoded and repeated to the length needed.</summary>
    private static int[] CorpusTokens(TextTokenizer tokenizer, int count)
    {
        var one = tokenizer.Encode(TinyModelFactory.Corpus).ToArray();
        return Enumerable.Range(0, count).Select(i => one[i % one.Length]).ToArray();
    }

    private static string Summary(List<double> runs) =>
        runs.Count == 0 ? "-" : runs.Count == 1 ? F(runs[0]) : $"best {F(runs.Max())} (runs {string.Join(", ", runs.Select(F))})";

    private static string F(double v) => v.ToString(v >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture);

    private static void PrintTable(EngineBenchmarkOptions o, Timings ours, Timings peer, double bound,
        double readGBs, double rel, Spreads spreads, double rss, int greedyAgree, int greedyLen, long weightBytes)
    {
        string Spread(List<double> r) => r.Count > 1 ? $"{(r.Max() - r.Min()) / r.Max() * 100:F0}%" : "-";
        Console.WriteLine();
        Console.WriteLine($"{BenchModels.Describe(o.Model)}, random weights, {QuantTypes.Name(o.Quantization)} ({weightBytes / 1048576.0:F0} MiB; llama.cpp in its own process), {o.Threads} threads{(o.Quick ? ", QUICK" : "")}; best of {o.Repeat} (spread = (best-worst)/best)");
        Console.WriteLine($"{"metric",-40}{"ours",12}{"llama.cpp",12}{"ours/peer",11}{"spread o/p",13}");
        void Row(string name, List<double> a, List<double> b) =>
            Console.WriteLine($"{name,-40}{F(a.Max()),12}{F(b.Max()),12}{a.Max() / b.Max(),11:F2}{Spread(a) + "/" + Spread(b),13}");
        Row($"decode tok/s ({o.DecodePromptTokens}+{o.DecodeNewTokens}, 1 stream)", ours.Decode, peer.Decode);
        Row($"prefill tok/s ({o.PrefillTokens} tokens)", ours.Prefill, peer.Prefill);
        Row($"aggregate decode tok/s ({o.Streams} streams)", ours.BatchedSteady, peer.BatchedSteady);
        Row($"  end to end, {o.Streams} prompts prefilled too", ours.Batched, peer.Batched);
        Console.WriteLine($"{"bandwidth bound decode tok/s",-40}{F(bound),12}{"",12}{ours.Decode.Max() / bound,11:F2}   (ours/bound; peer/bound {peer.Decode.Max() / bound:F2}; read-only {readGBs:F1} GB/s)");
        PrintParity(o, rel, spreads, greedyAgree, greedyLen);
        Console.WriteLine($"{"peak RSS MiB (ours, engine phase)",-40}{rss,12:F0}");
    }

    private static void PrintParity(EngineBenchmarkOptions o, double rel, Spreads spreads, int greedyAgree, int greedyLen)
    {
        Console.WriteLine($"{"max_rel_logit_diff",-40}{rel,12:E2}   ({o.ParityTokens} positions, our decode vs llama.cpp's batch; greedy tokens agreeing: {greedyAgree}/{greedyLen})");
        Console.WriteLine($"{"  decode vs decode / batch vs batch",-40}{spreads.DecodeVsDecode,12:E2}{spreads.PrefillVsPrefill,12:E2}");
        Console.WriteLine($"{"  own decode vs own batch: ours / llama",-40}{spreads.OursSelf,12:E2}{spreads.PeerSelf,12:E2}");
    }
}
