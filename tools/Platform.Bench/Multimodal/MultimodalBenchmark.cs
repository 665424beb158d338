using Gateway.Hosting;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Multimodal.Models;
using Platform.Multimodal.Onnx;
using Platform.Multimodal.Training;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Bench.Multimodal;

/// <summary>
/// The multimodal path in all-in-one mode: end-to-end latency of a chat request that draws an image (LM decode, image
/// slot, ImageGen's mapper + ONNX decoder, PNG stored and referenced), images/s with 8 concurrent clients, and the
/// decoder alone in ONNX Runtime vs the same weights in TorchSharp (h4's ImageDecoder module).
/// </summary>
public static class MultimodalBenchmark
{
    private const string Model = "demo";
    private const string Instruction = "draw a large red circle at the middle center.";

    public static async Task<int> RunAsync(string[] args)
    {
        string? json = null, folder = null;
        int requests = 40, clients = 8, concurrentRequests = 64, decoderRuns = 500;
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

        await using (var gateway = await StartGatewayAsync(folder, Math.Max(clients, 1)))
        {
            using var http = new HttpClient { BaseAddress = gateway.Address, Timeout = TimeSpan.FromMinutes(5) };
            await DrawAsync(http); // warm-up: first forward passes, JIT
            var latencies = new List<double>();
            for (var i = 0; i < requests; i++)
            {
                var sw = Stopwatch.StartNew();
                await DrawAsync(http);
                latencies.Add(sw.Elapsed.TotalMilliseconds);
            }
            latencies.Sort();
            var (p50, p99) = (Percentile(latencies, 0.5), Percentile(latencies, 0.99));
            Console.WriteLine($"image-generating chat request, sequential x{requests}: median {p50:0.0} ms, p99 {p99:0.0} ms");
            results["e2e_ms"] = new JsonObject { ["requests"] = requests, ["median"] = p50, ["p99"] = p99 };

            var total = Stopwatch.StartNew();
            var next = 0;
            var done = 0;
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) <= concurrentRequests)
                {
                    await DrawAsync(http);
                    Interlocked.Increment(ref done);
                }
            }));
            var rate = done / total.Elapsed.TotalSeconds;
            Console.WriteLine($"{clients} concurrent clients, {done} requests: {rate:0.00} images/s (sequential: {1000 / p50:0.00} images/s)");
            results["concurrent"] = new JsonObject
            {
                ["clients"] = clients, ["requests"] = done, ["images_per_s"] = rate, ["sequential_images_per_s"] = 1000 / p50,
            };
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
    private static Task<InProcessGateway> StartGatewayAsync(string folder, int maxConcurrent) =>
        InProcessGateway.StartAsync(new Dictionary<string, string?>
        {
            [$"Models:{Model}:Path"] = folder,
            [$"Models:{Model}:Multimodal"] = "true",
            [$"Models:{Model}:Engine:MaxConcurrentSequences"] = maxConcurrent.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ImageGen:MaxConcurrentRequests"] = maxConcurrent.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Bus:Transport"] = "InMemory",
        });
}
