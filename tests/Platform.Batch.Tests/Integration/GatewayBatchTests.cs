using ImageGen;
using TextLlm;
#pragma warning disable OPENAI001 // BatchClient is marked experimental in the SDK.
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json.Nodes;
using Gateway;
using Gateway.Batch;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Batch;
using OpenAI.Chat;
using OpenAI.Files;
using Platform.Inference.Models;
using Platform.ServiceDefaults.Bus;

namespace Platform.Batch.Tests.Integration;

/// <summary>
/// The gateway composed as Program.cs does (AddGateway, AddGatewayBatch, AddPlatformBus), all-in-one: the real
/// TextLlm engine on a tiny random model, the in-memory bus and SQLite. Batch lines run through the same chat
/// endpoint and workers as interactive requests.
/// </summary>
public sealed class GatewayBatchTests : IAsyncLifetime
{
    private const string Model = "tiny";
    private readonly TempDirectory _dir = new();
    private WebApplication _app = null!;
    private OpenAIClient _client = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var modelFolder = TinyModelFactory.Create(_dir.File("model"), TinyModelFactory.TinyConfig());
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = _dir.Path });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"Models:{Model}:Path"] = modelFolder,
            [$"Models:{Model}:Engine:MaxConcurrentSequences"] = "4",
            ["Batch:ConnectionString"] = $"Data Source={_dir.File("batch.db")}",
            ["Batch:MaxConcurrentItems"] = "1",
            ["Batch:SweepIntervalSeconds"] = "0.2",
            ["Batch:ModelWaitSeconds"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddGateway();
        builder.AddTextLlmWorker();   // all-in-one, as services/AllInOne composes it
        builder.AddImageGenWorker();
        builder.AddGatewayBatch();
        builder.AddPlatformBus();
        _app = builder.Build();
        _app.MapGateway();
        _app.MapBatchApi();
        await _app.StartAsync();
        var address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        _http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        _client = new OpenAIClient(new ApiKeyCredential("k"), new OpenAIClientOptions { Endpoint = new Uri(address, "/v1") });
        using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!(await _http.GetAsync("/health", ready.Token)).IsSuccessStatusCode) await Task.Delay(50, ready.Token);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _dir.Dispose();
    }

    private static string Line(string customId, string content, string model = Model, int maxTokens = 8, double temperature = 0) =>
        new JsonObject
        {
            ["custom_id"] = customId, ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = new JsonObject
            {
                ["model"] = model, ["max_tokens"] = maxTokens, ["temperature"] = temperature,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
            },
        }.ToJsonString();

    private async Task<(string Id, CreateBatchOperation Operation)> StartBatchAsync(IEnumerable<string> lines)
    {
        var file = await _client.GetOpenAIFileClient().UploadFileAsync(BinaryData.FromString(string.Join("\n", lines)), "in.jsonl", FileUploadPurpose.Batch);
        var operation = await _client.GetBatchClient().CreateBatchAsync(BinaryContent.Create(BinaryData.FromObjectAsJson(new
        {
            input_file_id = file.Value.Id, endpoint = "/v1/chat/completions", completion_window = "24h",
        })), waitUntilCompleted: false);
        return (operation.BatchId, operation);
    }

    private static async Task<JsonNode> PollAsync(CreateBatchOperation operation, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var batch = JsonNode.Parse((await operation.GetBatchAsync(new RequestOptions())).GetRawResponse().Content.ToString())!;
            if (statuses.Contains(batch["status"]!.GetValue<string>())) return batch;
            Assert.True(DateTime.UtcNow < deadline, $"batch did not reach {string.Join("/", statuses)}: {batch.ToJsonString()}");
            await Task.Delay(100);
        }
    }

    private async Task<List<JsonNode>> LinesAsync(JsonNode batch, string field) =>
        batch[field] is null
            ? []
            : (await _client.GetOpenAIFileClient().DownloadFileAsync(batch[field]!.GetValue<string>())).Value.ToString()
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();

    [Fact]
    public async Task Batch_RealEngine_OutputMatchesInteractiveAndRunTimeFailuresGoToErrorFile()
    {
        var lines = Enumerable.Range(0, 6).Select(i => Line($"ok-{i}", $"hello number {i}")).ToList();
        lines.Add(Line("unknown-model", "x", model: "no-such-model"));
        lines.Add(Line("too-long", "x", maxTokens: 1_000_000));
        var (_, operation) = await StartBatchAsync(lines);
        var batch = await PollAsync(operation, "completed", "failed");

        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        Assert.Equal((8L, 6L, 2L), (batch["request_counts"]!["total"]!.GetValue<long>(),
            batch["request_counts"]!["completed"]!.GetValue<long>(), batch["request_counts"]!["failed"]!.GetValue<long>()));
        var output = await LinesAsync(batch, "output_file_id");
        var errors = await LinesAsync(batch, "error_file_id");
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"ok-{i}"), output.Select(l => l["custom_id"]!.GetValue<string>()));
        Assert.Equal(["unknown-model", "too-long"], errors.Select(l => l["custom_id"]!.GetValue<string>()));
        Assert.Equal(404, errors[0]["response"]!["status_code"]!.GetValue<int>());
        Assert.Equal("model_not_found", errors[0]["response"]!["body"]!["error"]!["code"]!.GetValue<string>());
        Assert.Equal(400, errors[1]["response"]!["status_code"]!.GetValue<int>());

        // Greedy decoding: the batch answer equals the interactive answer to the same request.
        var body = output[3]["response"]!["body"]!;
        Assert.Equal("chat.completion", body["object"]!.GetValue<string>());
        Assert.Equal(Model, body["model"]!.GetValue<string>());
        var interactive = await _client.GetChatClient(Model).CompleteChatAsync(
            [new UserChatMessage("hello number 3")], new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0 });
        Assert.Equal(interactive.Value.Content[0].Text, body["choices"]![0]!["message"]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task Validate_BodyRejectedByChatValidator_FailsBatchWithBodyParam()
    {
        var bad = new JsonObject
        {
            ["custom_id"] = "hot", ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = new JsonObject
            {
                ["model"] = Model, ["temperature"] = 5,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "x" }),
            },
        }.ToJsonString();
        var (_, operation) = await StartBatchAsync([Line("fine", "x"), bad]);
        var batch = await PollAsync(operation, "failed", "completed");
        Assert.Equal("failed", batch["status"]!.GetValue<string>());
        var error = Assert.Single(batch["errors"]!["data"]!.AsArray())!;
        Assert.Equal(("invalid_request", "body.temperature", 2L),
            (error["code"]!.GetValue<string>(), error["param"]!.GetValue<string>(), error["line"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Chat_WhileLargeBatchRuns_InteractiveRequestsAnswered()
    {
        var (id, operation) = await StartBatchAsync(Enumerable.Range(0, 60).Select(i => Line($"b-{i}", $"batch {i}", maxTokens: 24)));
        await PollAsync(operation, "in_progress");

        var chat = _client.GetChatClient(Model);
        for (var i = 0; i < 3; i++)
        {
            var answer = await chat.CompleteChatAsync([new UserChatMessage($"interactive {i}")],
                new ChatCompletionOptions { MaxOutputTokenCount = 4, Temperature = 0 });
            Assert.Equal(ChatFinishReason.Length, answer.Value.FinishReason);
        }
        // The interactive calls were answered while the batch was still running, not after it.
        var during = JsonNode.Parse(await _http.GetStringAsync($"/v1/batches/{id}"))!;
        Assert.Equal("in_progress", during["status"]!.GetValue<string>());
        Assert.True(during["request_counts"]!["completed"]!.GetValue<long>() < 60);

        var done = await PollAsync(operation, "completed");
        Assert.Equal(60, done["request_counts"]!["completed"]!.GetValue<long>());
        var metrics = await _http.GetStringAsync("/metrics");
        Assert.Contains("platform_batch_requests_total{status=\"completed\"} 60", metrics);
    }
}
