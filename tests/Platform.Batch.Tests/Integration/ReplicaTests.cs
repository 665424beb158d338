using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;
using Platform.Inference.Models;
using Xunit.Abstractions;
using Platform.Batch.Tests.Storage;

namespace Platform.Batch.Tests.Integration;

/// <summary>
/// Separate processes on RabbitMQ and PostgreSQL: two gateways and two TextLlm workers. A batch running when the
/// gateway holding the coordinator lease is killed completes through the other with every custom_id once; a worker
/// sent SIGTERM in the middle of a stream finishes it or gives the client a clean error, withdraws and exits;
/// streams of one model through two gateways stay whole, and a client that leaves one stops its sequence in the worker.
/// </summary>
public sealed class ReplicaTests(ITestOutputHelper output)
{
    private const int Requests = 16;

    [SkippableFact]
    public async Task CoordinatorGatewayKilled_MidBatch_OtherGatewayCompletesEveryCustomIdOnce()
    {
        await using var cluster = await DistributedCluster.StartAsync();
        await cluster.StartWorkerAsync();
        var second = await cluster.StartGatewayAsync(newReplica: true);
        var first = cluster.Gateway!;

        var lines = string.Join("\n", Enumerable.Range(0, Requests).Select(i => BatchTestHost.Line($"item-{i}", $"question {i}", cluster.Model)));
        using var form = new MultipartFormDataContent { { new StringContent("batch"), "purpose" }, { new ByteArrayContent(Encoding.UTF8.GetBytes(lines)), "file", "in.jsonl" } };
        using var upload = await cluster.Http.PostAsync(new Uri(second.Address, "/v1/files"), form);
        var fileId = JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        using var created = await cluster.Http.PostAsJsonAsync(new Uri(second.Address, "/v1/batches"),
            new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" });
        var batchId = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();

        // Kill whichever gateway holds the lease, once the batch is under way.
        var holder = await LeaseHolderAsync(cluster.Schema);
        var coordinator = cluster.Gateways.Single(g => holder.Contains($"-{g.Id}-", StringComparison.Ordinal));
        var survivor = coordinator == first ? second : first;
        await WaitAsync(async () => (await BatchAsync(cluster, survivor, batchId))["request_counts"]!["completed"]!.GetValue<long>() >= 2, cluster);
        coordinator.Kill();

        JsonNode batch = null!;
        await WaitAsync(async () => (batch = await BatchAsync(cluster, survivor, batchId))["status"]!.GetValue<string>() is "completed" or "failed", cluster);
        Assert.True(batch["status"]!.GetValue<string>() == "completed", batch.ToJsonString() + cluster.Logs());
        Assert.Equal(Requests, batch["request_counts"]!["completed"]!.GetValue<long>());
        var output = (await cluster.Http.GetStringAsync(new Uri(survivor.Address, $"/v1/files/{batch["output_file_id"]!.GetValue<string>()}/content")))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!["custom_id"]!.GetValue<string>()).ToList();
        Assert.Equal(Enumerable.Range(0, Requests).Select(i => $"item-{i}").Order(), output.Order());
        Assert.Contains($"-{survivor.Id}-", await LeaseHolderAsync(cluster.Schema));
    }

    [SkippableFact]
    public async Task WorkerSigterm_MidStream_StreamFinishesOrEndsWithCleanErrorAndWorkerExits()
    {
        await using var cluster = await DistributedCluster.StartAsync();
        var worker = cluster.Workers[0];

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new
            {
                model = cluster.Model, stream = true, max_tokens = 400, ignore_eos = true,
                messages = new[] { new { role = "user", content = "tell a long story" } },
            }),
        };
        using var response = await cluster.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<string>();
        while (events.Count < 3 && await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line[6..]);

        worker.Terminate();
        while (await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line[6..]);

        // Either the whole answer with [DONE], or one error event (worker_unavailable) and no [DONE]: never a hang or a cut.
        var last = events[^1];
        if (last != "[DONE]")
        {
            var error = JsonNode.Parse(last)!["error"]!;
            Assert.Equal("worker_unavailable", error["code"]!.GetValue<string>());
        }
        Assert.True(worker.WaitForExit(TimeSpan.FromSeconds(60)) is 0, "the worker did not exit cleanly after SIGTERM:\n" + cluster.Logs());
        // It withdrew its model: with no other worker the gateway lists none (within the bound, not at once).
        await WaitAsync(async () => !(await cluster.Http.GetStringAsync("/v1/models")).Contains(cluster.Model, StringComparison.Ordinal), cluster);
    }

    [SkippableFact]
    public async Task StreamsOfOneModel_ThroughTwoGateways_BothIntactAndAClientThatLeavesStopsTheWorker()
    {
        // Wider and deeper than TinyConfig so that a long answer takes seconds: the cancel has time to arrive.
        await using var cluster = await DistributedCluster.StartAsync(TinyModelFactory.TinyConfig() with
        {
            HiddenSize = 256, IntermediateSize = 512, NumHiddenLayers = 4, MaxPositionEmbeddings = 2048,
        });
        var second = await cluster.StartGatewayAsync(newReplica: true);
        const int MaxTokens = 1500;
        HttpRequestMessage Request(ServiceProcess gateway) => new(HttpMethod.Post, new Uri(gateway.Address, "/v1/chat/completions"))
        {
            Content = JsonContent.Create(new
            {
                model = cluster.Model, stream = true, max_tokens = MaxTokens, ignore_eos = true, temperature = 0,
                messages = new[] { new { role = "user", content = "tell a long story" } },
            }),
        };
        using var leaving = await cluster.Http.SendAsync(Request(cluster.Gateway!), HttpCompletionOption.ResponseHeadersRead);
        using var staying = await cluster.Http.SendAsync(Request(second), HttpCompletionOption.ResponseHeadersRead);
        Assert.True(leaving.IsSuccessStatusCode && staying.IsSuccessStatusCode);
        var leavingReader = new StreamReader(await leaving.Content.ReadAsStreamAsync());
        using var stayingReader = new StreamReader(await staying.Content.ReadAsStreamAsync());
        var leavingText = new StringBuilder();
        for (int events = 0; events < 3 && await leavingReader.ReadLineAsync() is { } line;)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) { leavingText.Append(Content(line[6..])); events++; }
        leavingReader.Dispose();
        leaving.Dispose(); // the client of gateway A goes away mid-stream

        var stayingText = new StringBuilder();
        string? finish = null, last = null;
        while (await stayingReader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            last = line[6..];
            if (last == "[DONE]") break;
            stayingText.Append(Content(last));
            finish = JsonNode.Parse(last)!["choices"]?[0]?["finish_reason"]?.GetValue<string>() ?? finish;
        }
        Assert.Equal("[DONE]", last);
        Assert.Equal("length", finish);
        // Same prompt, greedy: gateway A's client saw the start of what gateway B's client got in full (no chunk of
        // one stream went to the other gateway).
        Assert.StartsWith(leavingText.ToString(), stayingText.ToString(), StringComparison.Ordinal);

        // The worker's own counters: B's answer in full, and of A's only what it made before the cancel arrived.
        var worker = cluster.Workers[0];
        double generated = 0;
        await WaitAsync(async () =>
        {
            var metrics = await cluster.Http.GetStringAsync(new Uri(worker.Address, "/metrics"));
            generated = Metric(metrics, "platform_engine_generation_tokens_total", cluster.Model);
            return Metric(metrics, "platform_engine_num_requests_running", cluster.Model) == 0;
        }, cluster);
        double leftBehind = generated - MaxTokens;
        output.WriteLine($"worker generated {generated} tokens; {leftBehind} for the client that left after 3 events");
        Assert.True(leftBehind >= 3 && leftBehind < MaxTokens / 2,
            $"the worker generated {generated} tokens: {leftBehind} for the client that left after 3 events\n" + cluster.Logs());
    }

    private static string Content(string data) =>
        data == "[DONE]" ? "" : JsonNode.Parse(data)!["choices"]?[0]?["delta"]?["content"]?.GetValue<string>() ?? "";

    private static double Metric(string text, string name, string model)
    {
        var prefix = $"{name}{{model_name=\"{model}\"}} ";
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[prefix.Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<string> LeaseHolderAsync(string schema)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            await using var connection = new NpgsqlConnection(PostgresTestServer.ConnectionString);
            var holder = await connection.QuerySingleOrDefaultAsync<string>(
                $"SELECT holder FROM {schema}.batch_leases WHERE name = 'batch-coordinator' AND expires_at > @now",
                new { now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
            if (holder is not null) return holder;
            Assert.True(DateTime.UtcNow < deadline, "no gateway took the coordinator lease within 30 s");
            await Task.Delay(200);
        }
    }

    private static async Task<JsonNode> BatchAsync(DistributedCluster cluster, ServiceProcess gateway, string id) =>
        JsonNode.Parse(await cluster.Http.GetStringAsync(new Uri(gateway.Address, $"/v1/batches/{id}")))!;

    private static async Task WaitAsync(Func<Task<bool>> condition, DistributedCluster cluster)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(180);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 180 s\n" + cluster.Logs());
            await Task.Delay(250);
        }
    }
}
