using AllInOne.Hosting;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Models;

namespace Platform.Bench.Batch;

/// <summary>
/// `batch`: the same N greedy chat requests (1) as one batch through the Batch API and (2) as interactive calls from
/// C concurrent clients, on one all-in-one gateway (in-memory bus, SQLite, the real engine on a tiny random model);
/// plus the latency of a sequential interactive request with no batch and while the batch runs. Prints the ratios.
/// </summary>
public static class BatchBenchmark
{
    private const string Model = "bench";

    public static async Task<int> RunAsync(string[] args)
    {
        var requests = 1000;
        var maxTokens = 8;
        var clients = 8;
        var budget = 2;
        var probes = 30;
        string? json = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--requests": requests = int.Parse(args[++i]); break;
                case "--max-tokens": maxTokens = int.Parse(args[++i]); break;
                case "--clients": clients = int.Parse(args[++i]); break;
                case "--budget": budget = int.Parse(args[++i]); break;
                case "--probes": probes = int.Parse(args[++i]); break;
                case "--json": json = args[++i]; break;
                default:
                    Console.Error.WriteLine("usage: Platform.Bench batch [--requests N] [--max-tokens N] [--clients C] [--budget B] [--probes P] [--json PATH]");
                    return 2;
            }
        }

        var temp = Path.Combine(Path.GetTempPath(), "batch-bench-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var modelFolder = TinyModelFactory.Create(Path.Combine(temp, "model"), TinyModelFactory.TinyConfig());
            await using var gateway = await StartGatewayAsync(modelFolder, temp, budget);
            using var http = new HttpClient { BaseAddress = gateway.Address, Timeout = TimeSpan.FromMinutes(10) };
            Console.WriteLine($"{requests} requests, greedy, max_tokens {maxTokens}; {clients} interactive clients; batch budget {budget}; engine slots 8");

            for (var i = 0; i < 10; i++) await ChatAsync(http, $"warm-up {i}", maxTokens); // JIT, first allocations

            var idle = new List<double>();
            for (var i = 0; i < probes; i++) idle.Add(await TimedChatAsync(http, $"probe {i}", maxTokens));

            var remaining = requests;
            var sw = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
            {
                while (Interlocked.Decrement(ref remaining) >= 0) await ChatAsync(http, $"request {remaining}", maxTokens);
            }));
            var interactiveSeconds = sw.Elapsed.TotalSeconds;

            var lines = string.Join("\n", Enumerable.Range(0, requests).Select(i => JsonSerializer.Serialize(new
            {
                custom_id = $"r{i}", method = "POST", url = "/v1/chat/completions",
                body = new { model = Model, max_tokens = maxTokens, temperature = 0, messages = new[] { new { role = "user", content = $"request {i}" } } },
            })));
            using var form = new MultipartFormDataContent
            {
                { new StringContent("batch"), "purpose" },
                { new ByteArrayContent(Encoding.UTF8.GetBytes(lines)), "file", "bench.jsonl" },
            };
            var file = JsonNode.Parse(await (await http.PostAsync("/v1/files", form)).Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
            sw.Restart();
            var created = await http.PostAsJsonAsync("/v1/batches", new { input_file_id = file, endpoint = "/v1/chat/completions", completion_window = "24h" });
            var batchId = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();

            // Interactive probes while the batch runs (counted only while it is still in progress).
            var during = new List<double>();
            JsonNode batch;
            while (true)
            {
                batch = JsonNode.Parse(await http.GetStringAsync($"/v1/batches/{batchId}"))!;
                var status = batch["status"]!.GetValue<string>();
                if (status is "completed" or "failed" or "expired" or "cancelled") break;
                if (status == "in_progress" && during.Count < probes)
                {
                    var ms = await TimedChatAsync(http, $"probe {during.Count}", maxTokens);
                    if ((JsonNode.Parse(await http.GetStringAsync($"/v1/batches/{batchId}"))!)["status"]!.GetValue<string>() == "in_progress")
                        during.Add(ms);
                }
                else await Task.Delay(50);
            }
            var batchSeconds = sw.Elapsed.TotalSeconds;
            if (batch["status"]!.GetValue<string>() != "completed" || batch["request_counts"]!["completed"]!.GetValue<long>() != requests)
                throw new InvalidOperationException($"The batch did not complete every request: {batch.ToJsonString()}");

            double P(List<double> xs, double q) => xs.Count == 0 ? double.NaN : xs.Order().ElementAt(Math.Min(xs.Count - 1, (int)Math.Ceiling(q * xs.Count) - 1));
            var results = new JsonObject
            {
                ["requests"] = requests,
                ["interactive_req_s"] = Math.Round(requests / interactiveSeconds, 2),
                ["batch_req_s"] = Math.Round(requests / batchSeconds, 2),
                ["batch_vs_interactive_throughput"] = Math.Round(interactiveSeconds / batchSeconds, 3),
                ["idle_latency_ms_p50"] = Math.Round(P(idle, 0.5), 2),
                ["during_batch_latency_ms_p50"] = Math.Round(P(during, 0.5), 2),
                ["during_batch_latency_ms_p95"] = Math.Round(P(during, 0.95), 2),
                ["during_batch_probes"] = during.Count,
                ["latency_ratio_p50_during_vs_idle"] = Math.Round(P(during, 0.5) / P(idle, 0.5), 3),
            };
            Console.WriteLine($"interactive: {requests} requests by {clients} clients in {interactiveSeconds:0.00} s; batch (budget {budget}): {batchSeconds:0.00} s");
            Console.WriteLine($"interactive latency p50: idle {P(idle, 0.5):0.0} ms, during the batch {P(during, 0.5):0.0} ms ({during.Count} probes)");
            var text = results.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            Console.WriteLine(text);
            if (json is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(json))!);
                await File.WriteAllTextAsync(json, text);
            }
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task ChatAsync(HttpClient http, string content, int maxTokens)
    {
        using var response = await http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = Model, max_tokens = maxTokens, temperature = 0, messages = new[] { new { role = "user", content } },
        });
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"chat failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task<double> TimedChatAsync(HttpClient http, string content, int maxTokens)
    {
        var sw = Stopwatch.StartNew();
        await ChatAsync(http, content, maxTokens);
        return sw.Elapsed.TotalMilliseconds;
    }

    /// <summary>The gateway with the batch API, hosting the worker, on the in-memory bus.</summary>
    private static Task<InProcessGateway> StartGatewayAsync(string modelFolder, string temp, int budget) =>
        InProcessGateway.StartAsync(new Dictionary<string, string?>
        {
            [$"Models:{Model}:Path"] = modelFolder,
            [$"Models:{Model}:Engine:MaxConcurrentSequences"] = "8",
            ["ChatClient:MaxWaitingRequests"] = "100000",
            ["Batch:ConnectionString"] = $"Data Source={Path.Combine(temp, "batch.db")}",
            ["Batch:MaxConcurrentItems"] = budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Batch:SweepIntervalSeconds"] = "1",
        }, withBatchApi: true);
}
