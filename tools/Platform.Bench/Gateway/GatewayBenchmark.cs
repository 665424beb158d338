using AllInOne.Hosting;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Platform.Inference.Engine;
using Platform.Inference.Models;
using TextLlm.Models;

namespace Platform.Bench.Gateway;

/// <summary>
/// `gateway`: what the gateway and the bus add to a request, against calling the very engine the worker serves
/// in-process with the same greedy request (so both do identical work on the same engine instance), for the in-memory
/// bus and for RabbitMQ (a broker on 127.0.0.1:5672, e.g. scripts/rabbitmq.sh start); and requests/s with 32
/// concurrent streaming clients.
/// `gateway write-default-model [FOLDER]`: writes the interim default model (models/tiny-chat).
/// </summary>
public static class GatewayBenchmark
{
    private const string Model = "bench";
    private static readonly ChatMessage[] Messages = [new("user", "Describe the picture in one sentence.")];

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "write-default-model")
            return WriteDefaultModel(args.Length > 1 ? args[1] : Path.Combine("models", "tiny-chat"));

        string? json = null;
        string? modelFolder = null;
        var requests = 300;
        var maxTokens = 8;
        var streamRequests = 256;
        var warmup = 100;
        var warmupSeconds = 20.0;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json": json = args[++i]; break;
                case "--model": modelFolder = args[++i]; break;
                case "--requests": requests = int.Parse(args[++i]); break;
                case "--max-tokens": maxTokens = int.Parse(args[++i]); break;
                case "--stream-requests": streamRequests = int.Parse(args[++i]); break;
                case "--warmup": warmup = int.Parse(args[++i]); break;
                case "--warmup-seconds": warmupSeconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine("""
                        usage: Platform.Bench gateway [--json PATH] [--model FOLDER] [--requests N] [--max-tokens N] [--stream-requests N]
                                                     [--warmup N] [--warmup-seconds S]
                               Platform.Bench gateway write-default-model [FOLDER]
                        The RabbitMQ figures need a broker on 127.0.0.1:5672 (scripts/rabbitmq.sh start); without one they are skipped.
                        """);
                    return 2;
            }
        }

        var temp = Path.Combine(Path.GetTempPath(), "gateway-bench-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            modelFolder ??= DefaultModelFolder() ?? TinyModelFactory.Create(Path.Combine(temp, "model"), TinyModelFactory.TinyConfig());
            Console.WriteLine($"model: {modelFolder}; {requests} sequential requests per path after at least {warmup} warm-up rounds " +
                              $"and {warmupSeconds:0.#} s, greedy, max_tokens {maxTokens}");

            var request = new GenerationRequest { Messages = Messages, MaxNewTokens = maxTokens, Sampling = SamplingOptions.Greedy };
            var body = JsonSerializer.Serialize(new
            {
                model = Model,
                messages = Messages.Select(m => new { role = m.Role, content = m.Content }),
                max_tokens = maxTokens,
                temperature = 0,
            });

            var results = new JsonObject();
            var inMemory = await MeasureAddedAsync("in-memory", request, body, modelFolder, requests, warmup, warmupSeconds, rabbit: false);
            results["inmemory_added_ms_p50"] = inMemory.P50;
            results["inmemory_added_ms_p99"] = inMemory.P99;
            if (BrokerReachable())
            {
                var rabbit = await MeasureAddedAsync("rabbitmq", request, body, modelFolder, requests, warmup, warmupSeconds, rabbit: true);
                results["rabbitmq_added_ms_p50"] = rabbit.P50;
                results["rabbitmq_added_ms_p99"] = rabbit.P99;
            }
            else
            {
                Console.WriteLine("rabbitmq: no broker on 127.0.0.1:5672, skipped (scripts/rabbitmq.sh start)");
                results["rabbitmq_added_ms_p50"] = null;
                results["rabbitmq_added_ms_p99"] = null;
            }
            results["streams32_req_s"] = await MeasureStreamsAsync(modelFolder, streamRequests, maxTokens: 32);

            Console.WriteLine(results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            if (json is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(json))!);
                await File.WriteAllTextAsync(json, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            return 0;
        }
        finally
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Alternates one in-process request to the engine the gateway's worker serves (the same instance, options and
    /// thread) and one HTTP request through the gateway (sequential, so neither queues), then compares the latency
    /// distributions: added = gateway percentile - engine percentile. The warm-up lasts at least
    /// <paramref name="warmup"/> rounds and <paramref name="warmupSeconds"/>: tiered JIT (tier 0, instrumented, tier 1)
    /// takes seconds to promote the engine's managed decode loops and the gateway's code, and before it has, both paths
    /// run several times slower (measured: the engine's p50 for this request went from ~8 ms to ~2 ms).
    /// </summary>
    private static async Task<(double P50, double P99)> MeasureAddedAsync(string name, GenerationRequest request,
        string body, string modelFolder, int requests, int warmup, double warmupSeconds, bool rabbit)
    {
        await using var gateway = await StartGatewayAsync(modelFolder, rabbit, maxConcurrent: 4);
        var engine = gateway.Services.GetRequiredService<EngineHost>().Engines[Model];
        using var http = new HttpClient { BaseAddress = gateway.Address };
        var direct = new List<double>(requests);
        var viaGateway = new List<double>(requests);
        int directTokens = 0, gatewayTokens = 0;
        var warming = Stopwatch.StartNew();
        for (var i = -warmup; i < requests; i++)
        {
            if (i == -1 && warming.Elapsed.TotalSeconds < warmupSeconds) i = -2; // keep warming up
            var sw = Stopwatch.StartNew();
            var tokens = 0;
            await foreach (var u in engine.GenerateAsync(request, CancellationToken.None)) tokens = u.CompletionTokens;
            var d = sw.Elapsed.TotalMilliseconds;

            sw.Restart();
            using var response = await http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
            var node = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            var g = sw.Elapsed.TotalMilliseconds;
            if (i < 0) continue;
            direct.Add(d);
            viaGateway.Add(g);
            directTokens += tokens;
            gatewayTokens += node["usage"]!["completion_tokens"]!.GetValue<int>();
        }
        if (directTokens != gatewayTokens)
            throw new InvalidOperationException($"{name}: the two paths generated different token counts ({directTokens} vs {gatewayTokens}).");
        double P(List<double> xs, double q) => xs.Order().ElementAt(Math.Min(xs.Count - 1, (int)Math.Ceiling(q * xs.Count) - 1));
        var p50 = P(viaGateway, 0.5) - P(direct, 0.5);
        var p99 = P(viaGateway, 0.99) - P(direct, 0.99);
        Console.WriteLine($"{name}: engine p50 {P(direct, 0.5):0.000} ms p99 {P(direct, 0.99):0.000} ms | gateway p50 {P(viaGateway, 0.5):0.000} ms " +
                          $"p99 {P(viaGateway, 0.99):0.000} ms | added p50 {p50:0.000} ms p99 {p99:0.000} ms");
        return (Math.Round(p50, 3), Math.Round(p99, 3));
    }

    /// <summary>32 clients, each streaming requests back to back until <paramref name="total"/> are done (all-in-one, in-memory bus).</summary>
    private static async Task<double> MeasureStreamsAsync(string modelFolder, int total, int maxTokens)
    {
        await using var gateway = await StartGatewayAsync(modelFolder, rabbit: false, maxConcurrent: 32);
        using var http = new HttpClient { BaseAddress = gateway.Address, Timeout = TimeSpan.FromMinutes(10) };
        var body = JsonSerializer.Serialize(new
        {
            model = Model,
            messages = Messages.Select(m => new { role = m.Role, content = m.Content }),
            max_tokens = maxTokens,
            stream = true,
        });
        var remaining = total;
        async Task ClientAsync()
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                };
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                string? last = null;
                while (await reader.ReadLineAsync() is { } line)
                    if (line.StartsWith("data: ", StringComparison.Ordinal)) last = line;
                if (last != "data: [DONE]") throw new InvalidOperationException("A stream ended without [DONE].");
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ClientAsync())); // warm-up pass
        remaining = total;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => ClientAsync()));
        var rate = total / sw.Elapsed.TotalSeconds;
        Console.WriteLine($"streams32: {total} streamed requests (max_tokens {maxTokens}) by 32 clients in {sw.Elapsed.TotalSeconds:0.00} s = {rate:0.0} req/s");
        return Math.Round(rate, 2);
    }

    private static bool BrokerReachable()
    {
        try
        {
            using var client = new TcpClient();
            return client.ConnectAsync("127.0.0.1", 5672).Wait(TimeSpan.FromSeconds(2)) && client.Connected;
        }
        catch (Exception ex) when (ex is SocketException or AggregateException)
        {
            return false;
        }
    }

    private static string? DefaultModelFolder()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "models", "tiny-chat");
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        return null;
    }

    private static int WriteDefaultModel(string folder)
    {
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
        {
            Console.Error.WriteLine($"{folder} is not empty; remove it first.");
            return 1;
        }
        TinyModelFactory.Create(folder, TinyModelFactory.TinyConfig(), seed: 0);
        Console.WriteLine($"wrote {Path.GetFullPath(folder)}: {string.Join(", ", Directory.GetFiles(folder).Select(Path.GetFileName))}");
        return 0;
    }

    /// <summary>Hosting the worker; on RabbitMQ the request still crosses the broker.</summary>
    private static Task<InProcessGateway> StartGatewayAsync(string modelFolder, bool rabbit, int maxConcurrent) =>
        InProcessGateway.StartAsync(new Dictionary<string, string?>
        {
            [$"Models:{Model}:Path"] = modelFolder,
            [$"Models:{Model}:Engine:MaxConcurrentSequences"] = maxConcurrent.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Bus:Transport"] = rabbit ? "RabbitMq" : "InMemory",
        });
}
