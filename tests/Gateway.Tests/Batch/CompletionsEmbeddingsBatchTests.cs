using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Batch;

/// <summary>All-in-one gateway with the Batch API on SQLite, for /v1/completions and /v1/embeddings lines.</summary>
public sealed class BatchGatewayFixture : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "api-batch-tests-" + Guid.NewGuid().ToString("N"));
    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        Host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["Batch:ConnectionString"] = $"Data Source={Path.Combine(_folder, "batch.db")}",
            ["Batch:SweepIntervalSeconds"] = "0.2",
        }, batch: true);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}

public class CompletionsEmbeddingsBatchTests(BatchGatewayFixture fixture) : IClassFixture<BatchGatewayFixture>
{
    private HttpClient Http => fixture.Host.Http;

    private async Task<JsonNode> RunBatchAsync(string endpoint, IEnumerable<JsonObject> bodies)
    {
        var lines = bodies.Select((b, i) => new JsonObject
        {
            ["custom_id"] = $"line-{i}", ["method"] = "POST", ["url"] = endpoint, ["body"] = b,
        }.ToJsonString());
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent("batch"), "purpose");
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(string.Join("\n", lines))), "file", "input.jsonl");
        using var upload = await Http.PostAsync("/v1/files", form);
        var fileId = JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        using var created = await Http.PostAsJsonAsync("/v1/batches", new { input_file_id = fileId, endpoint, completion_window = "24h" });
        var createdBody = await created.Content.ReadAsStringAsync();
        Assert.True(created.IsSuccessStatusCode, createdBody);
        var id = JsonNode.Parse(createdBody)!["id"]!.GetValue<string>();
        JsonNode batch;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        do
        {
            batch = JsonNode.Parse(await Http.GetStringAsync($"/v1/batches/{id}"))!;
            if (batch["status"]!.GetValue<string>() is "completed" or "failed") break;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        return batch;
    }

    private async Task<List<JsonNode>> OutputAsync(JsonNode batch)
    {
        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        var output = await Http.GetStringAsync($"/v1/files/{batch["output_file_id"]!.GetValue<string>()}/content");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)
            .OrderBy(r => r["custom_id"]!.GetValue<string>(), StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task Batch_OfCompletions_EveryLineGetsItsTextCompletion()
    {
        var batch = await RunBatchAsync("/v1/completions", Enumerable.Range(0, 2).Select(i => new JsonObject
        {
            ["model"] = GatewayHost.Model, ["prompt"] = $"story {i}", ["max_tokens"] = 3, ["temperature"] = 0, ["ignore_eos"] = true, ["logprobs"] = 1,
        }));
        var results = await OutputAsync(batch);
        Assert.Equal(["line-0", "line-1"], results.Select(r => r["custom_id"]!.GetValue<string>()));
        Assert.All(results, r =>
        {
            Assert.Equal(200, r["response"]!["status_code"]!.GetValue<int>());
            var body = r["response"]!["body"]!;
            Assert.Equal("text_completion", body["object"]!.GetValue<string>());
            Assert.Equal(3, body["choices"]![0]!["logprobs"]!["tokens"]!.AsArray().Count);
        });
    }

    [Fact]
    public async Task Batch_OfEmbeddings_EveryLineGetsItsVectors()
    {
        var batch = await RunBatchAsync("/v1/embeddings", Enumerable.Range(0, 2).Select(i => new JsonObject
        {
            ["model"] = GatewayHost.Model, ["input"] = new JsonArray($"shape {i}", "circle"), ["dimensions"] = 8,
        }));
        var results = await OutputAsync(batch);
        Assert.All(results, r =>
        {
            Assert.Equal(200, r["response"]!["status_code"]!.GetValue<int>());
            var data = r["response"]!["body"]!["data"]!.AsArray();
            Assert.Equal(2, data.Count);
            Assert.All(data, d => Assert.Equal(8, d!["embedding"]!.AsArray().Count));
        });
    }

    [Fact]
    public async Task Batch_LineWithUnknownField_FailsValidationNamingIt()
    {
        var batch = await RunBatchAsync("/v1/embeddings", [new JsonObject { ["model"] = GatewayHost.Model, ["input"] = "x", ["colour"] = "red" }]);
        Assert.Equal("failed", batch["status"]!.GetValue<string>());
        Assert.Contains("body.colour", batch["errors"]!.ToJsonString());
    }
}
