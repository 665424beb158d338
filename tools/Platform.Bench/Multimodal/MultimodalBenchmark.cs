using AllInOne.Hosting;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Platform.Inference.Engine;
using Platform.Multimodal.Models;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.Training;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Bench.Multimodal;

/// <summary>
/// The multimodal path in all-in-one mode: chat requests that draw an image (LM decode, image slot, ImageGen's mapper +
/// ONNX decoder, PNG stored, referenced and fetched), one at a time against 8 concurrent clients (images/s, the ratio,
/// p50/p99 latency, CPU time per image), the same split for the engine and ImageGen's batch worker alone, and the
/// decoder alone in ONNX Runtime vs the same weights in TorchSharp.
/// </summary>
public static class MultimodalBenchmark
{
    private const string Model = "demo";
    private const string Instruction = "draw a large red circle at the middle center.";

    public static async Task<int> RunAsync(string[] args)
    {
        string? json = null, folder = null;
        // --threads: the demo engine's torch threads; 1 as in services/AllInOne/appsettings.json (0: torch's default).
        int requests = 40, clients = 8, concurrentRequests = 64, decoderRuns = 500, threads = 1, rounds = 3;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json": json = args[++i]; break;
                case "--model": folder = args[++i]; break;
                case "--requests": requests = int.Parse(args[++i]); break;
                case "--clients": clients = int.Parse(args[++i]); break;
                case "--concurrent-requests": concurrentRequests = int.Parse(args[++i]); break;
                case "--decoder-runs": decoderRuns = int.Parse(args[++i]); break;
                case "--threads": threads = int.Parse(args[++i]); break;
                case "--rounds": rounds = int.Parse(args[++i]); break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}");
                    return 2;
            }
        }
        folder ??= DefaultModelFolder();
        if (folder is null || !File.Exists(Path.Combine(folder, ModelFiles.Heads)))
        {
            Console.Error.WriteLine($"multimodal model folder not found ({folder ?? "models/demo"}); pass --model DIR");
            return 2;
        }

        var results = new JsonObject { ["model"] = folder, ["instruction"] = Instruction };
        Console.WriteLine($"model {folder}");

        await using (var gateway = await StartGatewayAsync(folder, Math.Max(clients, 1), threads))
        {
            using var http = new HttpClient { BaseAddress = gateway.Address, Timeout = TimeSpan.FromMinutes(5) };
            for (var i = 0; i < 3; i++) await DrawAsync(http); // warm-up: first forward passes, JIT
            results["parts"] = await PartsAsync(gateway, requests, clients);

            // Sequential and concurrent phases alternate, so a change in the shared machine's load hits both sides
            // of the ratio alike; the rates are over all rounds.
            var engine = gateway.Services.GetRequiredService<TextLlm.Models.EngineHost>().Engines[Model];
            var joinedBefore = engine.Stats.ImageSlotsWithPrefill;
            var sequential = new Phase();
            var concurrent = new Phase();
            for (var round = 0; round < rounds; round++)
            {
                await sequential.RunAsync(1, requests, () => DrawAsync(http));
                await concurrent.RunAsync(clients, concurrentRequests, () => DrawAsync(http));
                Console.WriteLine($"round {round + 1}: sequential {sequential.Last}; {clients} clients {concurrent.Last}");
            }
            var ratio = concurrent.Rate / sequential.Rate;
            Console.WriteLine($"image-generating chat requests, sequential: {sequential.Rate:0.0} images/s, p50 {sequential.P50:0.0} ms, p99 {sequential.P99:0.0} ms, {sequential.CpuMsPerImage:0.0} CPU ms/image");
            Console.WriteLine($"image-generating chat requests, {clients} clients: {concurrent.Rate:0.0} images/s, p50 {concurrent.P50:0.0} ms, p99 {concurrent.P99:0.0} ms, {concurrent.CpuMsPerImage:0.0} CPU ms/image");
            Console.WriteLine($"{clients} clients / sequential: {ratio:0.00}x");
            results["sequential"] = sequential.ToJson();
            results["concurrent"] = concurrent.ToJson();
            results["concurrent"]!["clients"] = clients;
            results["concurrent_over_sequential"] = ratio;
            // How often an image's [IMG] tokens shared a joining prompt's prefill forward instead of running their own.
            var joined = engine.Stats.ImageSlotsWithPrefill - joinedBefore;
            Console.WriteLine($"image slots appended in a prefill's forward: {joined} of {sequential.Count + concurrent.Count}");
            results["image_slots_with_prefill"] = joined;
        }

        results["decoder"] = CompareDecoders(folder, decoderRuns);
        var text = results.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (json is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(json))!);
            await File.WriteAllTextAsync(json, text);
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    /// <summary>Requests timed one after another or from several clients at once: images/s over all rounds, latency
    /// percentiles of every request, and the process's CPU time per image (what a shared host's load inflates least).</summary>
    private sealed class Phase
    {
        private readonly List<double> _latencies = [];
        private double _seconds, _cpuMs;
        private int _count;

        public string Last { get; private set; } = "";
        public int Count => _count;
        public double Rate => _count / _seconds;
        public double P50 => Percentile(Sorted(), 0.5);
        public double P99 => Percentile(Sorted(), 0.99);
        public double CpuMsPerImage => _cpuMs / _count;

        private List<double> Sorted() => _latencies.Order().ToList();

        public async Task RunAsync(int clients, int requests, Func<Task> call)
        {
            using var process = Process.GetCurrentProcess();
            var cpu = process.TotalProcessorTime;
            var total = Stopwatch.StartNew();
            var next = 0;
            var mine = new List<double>();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) <= requests)
                {
                    var sw = Stopwatch.StartNew();
                    await call();
                    lock (mine) mine.Add(sw.Elapsed.TotalMilliseconds);
                }
            }));
            var seconds = total.Elapsed.TotalSeconds;
            process.Refresh();
            _cpuMs += (process.TotalProcessorTime - cpu).TotalMilliseconds;
            _seconds += seconds;
            _count += mine.Count;
            _latencies.AddRange(mine);
            mine.Sort();
            Last = $"{mine.Count / seconds:0.0} images/s (p50 {Percentile(mine, 0.5):0.0} ms)";
        }

        public JsonObject ToJson() => new()
        {
            ["requests"] = _count, ["images_per_s"] = Rate, ["p50_ms"] = P50, ["p99_ms"] = P99, ["cpu_ms_per_image"] = CpuMsPerImage,
        };
    }

    /// <summary>Where an image request's time goes: the worker's engine alone (the same chat request, with its
    /// [IMG] slot) and ImageGen's batch worker alone, each one at a time and from several callers at once.</summary>
    private static async Task<JsonObject> PartsAsync(InProcessGateway gateway, int requests, int clients)
    {
        var engine = gateway.Services.GetRequiredService<TextLlm.Models.EngineHost>().Engines[Model];
        var batcher = gateway.Services.GetRequiredService<ImageGen.Models.ImageModelHost>().Batchers[Model];
        var request = new GenerationRequest
        {
            Messages = [new ChatMessage("user", Instruction)], MaxNewTokens = 64, Sampling = SamplingOptions.Greedy, ReportImageSlots = true,
        };
        ImageSlot? slot = null;
        async Task Generate()
        {
            await foreach (var u in engine.GenerateAsync(request, CancellationToken.None))
                if (u.Image is not null) slot = u.Image;
        }
        await Generate();
        if (slot is null) throw new InvalidOperationException($"the engine drew no image for '{Instruction}'");
        Task Produce() => batcher.ProduceImageAsync(slot, null, CancellationToken.None);
        var node = new JsonObject();
        foreach (var (name, call, count) in new (string, Func<Task>, int)[] { ("engine", Generate, requests), ("image_side", Produce, requests * 4) })
        {
            var alone = new Phase();
            var together = new Phase();
            await alone.RunAsync(1, count, call);
            await together.RunAsync(clients, count, call);
            Console.WriteLine($"{name} alone: sequential {alone.Rate:0.0}/s ({alone.CpuMsPerImage:0.00} CPU ms each), {clients} callers {together.Rate:0.0}/s ({together.CpuMsPerImage:0.00} CPU ms each)");
            node[name] = new JsonObject { ["sequential"] = alone.ToJson(), ["concurrent"] = together.ToJson() };
        }
        Console.WriteLine($"image side batches: {batcher.ProduceStats}");
        return node;
    }

    /// <summary>One chat request that must come back with exactly one image reference; the PNG is fetched too.</summary>
    private static async Task DrawAsync(HttpClient http)
    {
        var response = await http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = Model,
            messages = new[] { new { role = "user", content = Instruction } },
            temperature = 0,
            max_tokens = 64,
        });
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {body}");
        var parts = JsonNode.Parse(body)!["choices"]![0]!["message"]!["parts"]!.AsArray();
        var url = parts.FirstOrDefault(p => (string?)p!["type"] == "image_url")?["image_url"]?["url"]?.GetValue<string>()
                  ?? throw new InvalidOperationException($"no image in the answer: {body}");
        var png = await http.GetByteArrayAsync(url);
        if (png.Length < 8) throw new InvalidOperationException($"{url}: empty image");
    }

    /// <summary>The decoder alone: ONNX Runtime (what ImageGen serves) vs TorchSharp on the same weights, batch 1 and 8.</summary>
    private static JsonObject CompareDecoders(string folder, int runs)
    {
        var config = MultimodalConfig.Read(Path.Combine(folder, ModelFiles.Config));
        using var onnx = new OnnxImageDecoder(Path.Combine(folder, ModelFiles.DecoderOnnx));
        using var torchDecoder = new ImageDecoder(config);
        torchDecoder.load_safetensors(Path.Combine(folder, ModelFiles.DecoderWeights), strict: true);
        torchDecoder.eval();
        var node = new JsonObject { ["runs"] = runs };
        foreach (var batch in new[] { 1, 8 })
        {
            var generator = new Random(1234);
            var conditioning = Enumerable.Range(0, batch * config.ConditionSlots * config.ConditionDim)
                .Select(_ => (float)(generator.NextDouble() * 2 - 1)).ToArray();
            float[] TorchRun()
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                return torchDecoder.forward(tensor(conditioning, [batch, config.ConditionSlots, config.ConditionDim])).data<float>().ToArray();
            }
            var onnxOut = onnx.Run(conditioning, batch);
            var torchOut = TorchRun();
            var maxDiff = onnxOut.Zip(torchOut, (a, b) => Math.Abs(a - b)).Max();
            var onnxMs = Time(() => onnx.Run(conditioning, batch), runs);
            var torchMs = Time(() => TorchRun(), runs);
            Console.WriteLine($"decoder batch {batch}: ONNX Runtime median {onnxMs * 1000:0.0} us, TorchSharp {torchMs * 1000:0.0} us " +
                              $"(TorchSharp / ONNX = {torchMs / onnxMs:0.00}x), max |diff| {maxDiff:0.0e0}");
            node[$"batch_{batch}"] = new JsonObject
            {
                ["onnx_median_ms"] = onnxMs, ["torchsharp_median_ms"] = torchMs, ["torchsharp_over_onnx"] = torchMs / onnxMs,
                ["max_abs_diff"] = maxDiff,
            };
        }
        return node;
    }

    private static double Time(Action action, int runs)
    {
        for (var i = 0; i < Math.Min(20, runs); i++) action();
        var times = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            var t = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
        times.Sort();
        return Percentile(times, 0.5);
    }

    private static double Percentile(List<double> sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string? DefaultModelFolder()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "models", "demo");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>All-in-one on the in-memory bus (TextLlm and ImageGen in process).</summary>
    private static Task<InProcessGateway> StartGatewayAsync(string folder, int maxConcurrent, int threads) =>
        InProcessGateway.StartAsync(new Dictionary<string, string?>
        {
            [$"Models:{Model}:Path"] = folder,
            [$"Models:{Model}:Multimodal"] = "true",
            [$"Models:{Model}:Engine:MaxConcurrentSequences"] = maxConcurrent.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ImageGen:MaxConcurrentRequests"] = maxConcurrent.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Bus:Transport"] = "InMemory",
            [$"Models:{Model}:Engine:Threads"] = threads.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
}
