using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Platform.Batch.Tests.Integration;

/// <summary>
/// Faults in the distributed mode (separate processes, real RabbitMQ and PostgreSQL): a worker killed, the broker
/// restarted, the gateway killed — each in the middle of a batch. Each time the batch completes with every
/// custom_id exactly once. Every wait is bounded.
/// </summary>
[Collection(nameof(BrokerFaults))]
public sealed class BatchFaultTests
{
    private const int Requests = 24;

    private static string Input(string model) => string.Join("\n", Enumerable.Range(0, Requests).Select(i => new JsonObject
    {
        ["custom_id"] = $"item-{i}", ["method"] = "POST", ["url"] = "/v1/chat/completions",
        ["body"] = new JsonObject
        {
            ["model"] = model, ["max_tokens"] = 24, ["temperature"] = 0,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = $"request {i}" }),
        },
    }.ToJsonString()));

    private static async Task<string> CreateBatchAsync(DistributedCluster cluster)
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(Input(cluster.Model))), "file", "in.jsonl" },
        };
        var file = JsonNode.Parse(await (await cluster.Http.PostAsync("/v1/files", form)).Content.ReadAsStringAsync())!;
        var response = await cluster.Http.PostAsJsonAsync("/v1/batches",
            new { input_file_id = file["id"]!.GetValue<string>(), endpoint = "/v1/chat/completions", completion_window = "24h" });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonNode.Parse(text)!["id"]!.GetValue<string>();
    }

    private static async Task<JsonNode> GetAsync(DistributedCluster cluster, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                return JsonNode.Parse(await cluster.Http.GetStringAsync($"/v1/batches/{id}"))!;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500); // the gateway is restarting
            }
        }
    }

    private static async Task WaitForProgressAsync(DistributedCluster cluster, string id, long atLeast)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var batch = await GetAsync(cluster, id);
            var done = batch["request_counts"]!["completed"]!.GetValue<long>() + batch["request_counts"]!["failed"]!.GetValue<long>();
            if (done >= atLeast) return;
            Assert.True(batch["status"]!.GetValue<string>() is "validating" or "in_progress",
                $"batch left in_progress before the fault: {batch.ToJsonString()}");
            Assert.True(DateTime.UtcNow < deadline, $"no progress: {batch.ToJsonString()}\n{cluster.Logs()}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits for completion (bounded) and checks every custom_id is in the output exactly once.</summary>
    private static async Task AssertCompletesExactlyOnceAsync(DistributedCluster cluster, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(240);
        JsonNode batch;
        while (true)
        {
            batch = await GetAsync(cluster, id);
            if (batch["status"]!.GetValue<string>() is "completed" or "failed" or "expired" or "cancelled") break;
            Assert.True(DateTime.UtcNow < deadline, $"batch not finished in 240 s: {batch.ToJsonString()}\n{cluster.Logs()}");
            await Task.Delay(250);
        }
        Assert.True(batch["status"]!.GetValue<string>() == "completed", batch.ToJsonString() + "\n" + cluster.Logs());
        Assert.Equal(Requests, batch["request_counts"]!["completed"]!.GetValue<long>());
        Assert.Equal(0, batch["request_counts"]!["failed"]!.GetValue<long>());
        Assert.Null(batch["error_file_id"]);
        var output = (await cluster.Http.GetStringAsync($"/v1/files/{batch["output_file_id"]!.GetValue<string>()}/content"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        var ids = output.Select(l => l["custom_id"]!.GetValue<string>()).ToList();
        Assert.Equal(Enumerable.Range(0, Requests).Select(i => $"item-{i}").Order(), ids.Order());
        Assert.All(output, l => Assert.Equal(200, l["response"]!["status_code"]!.GetValue<int>()));
    }

    [SkippableFact]
    public async Task WorkerKilled_MidBatch_CompletesWithEveryCustomIdOnce()
    {
        await using var cluster = await DistributedCluster.StartAsync();
        var id = await CreateBatchAsync(cluster);
        await WaitForProgressAsync(cluster, id, 4);

        // The only worker dies with batch items in flight (SIGKILL: no acknowledgements, no goodbye); a new one starts.
        cluster.Workers[0].Kill();
        await cluster.StartWorkerAsync();
        // Interactive requests are answered while the batch goes on.
        var chat = await cluster.Http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = cluster.Model, max_tokens = 4, messages = new[] { new { role = "user", content = "still there?" } },
        });
        Assert.True(chat.IsSuccessStatusCode, await chat.Content.ReadAsStringAsync());

        await AssertCompletesExactlyOnceAsync(cluster, id);
    }

    [SkippableFact]
    public async Task BrokerRestarted_MidBatch_CompletesWithEveryCustomIdOnce()
    {
        // Restart only a broker this test run owns (scripts/test.sh exports PLATFORM_RABBITMQ_DIR), never someone else's.
        var owned = Environment.GetEnvironmentVariable("PLATFORM_RABBITMQ_DIR") is not null
                    || Environment.GetEnvironmentVariable("PLATFORM_TEST_RABBITMQ_SCRIPT") is not null;
        if (!owned && string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail("CI=true but neither PLATFORM_RABBITMQ_DIR nor PLATFORM_TEST_RABBITMQ_SCRIPT says which broker to restart.");
        Skip.IfNot(owned, "The broker is not owned by this run (set PLATFORM_RABBITMQ_DIR as scripts/test.sh does, or PLATFORM_TEST_RABBITMQ_SCRIPT).");
        await using var cluster = await DistributedCluster.StartAsync();
        var id = await CreateBatchAsync(cluster);
        await WaitForProgressAsync(cluster, id, 4);

        RunScript(DistributedCluster.BrokerScript, "stop");
        RunScript(DistributedCluster.BrokerScript, "start");

        await AssertCompletesExactlyOnceAsync(cluster, id);
    }

    [SkippableFact]
    public async Task GatewayKilled_MidBatch_NewGatewayResumesAndCompletesWithEveryCustomIdOnce()
    {
        await using var cluster = await DistributedCluster.StartAsync();
        var id = await CreateBatchAsync(cluster);
        await WaitForProgressAsync(cluster, id, 4);

        cluster.Gateway!.Kill();
        await cluster.StartGatewayAsync();

        await AssertCompletesExactlyOnceAsync(cluster, id);
    }

    private static void RunScript(string script, string command)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(command);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), $"{script} {command} did not finish in 120 s");
        Assert.True(process.ExitCode == 0, $"{script} {command} failed: {output.Result}{error.Result}");
    }
}

/// <summary>The fault tests run one at a time: they share (and restart) one broker.</summary>
[CollectionDefinition(nameof(BrokerFaults), DisableParallelization = true)]
public sealed class BrokerFaults;
