using System.ClientModel;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using Platform.Batch.Processing;
using Platform.Batch.Storage;
using Platform.ServiceDefaults.Bus;
using Prometheus;

namespace Platform.Batch.Tests;

/// <summary>
/// A real ASP.NET Core host on 127.0.0.1 (Kestrel, random port) with the batch API, the coordinator, a real
/// MassTransit bus (in-memory transport) and the given store; the chat endpoint is <see cref="EchoChatHandler"/>.
/// </summary>
public sealed class BatchTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BatchTestHost(WebApplication app, EchoChatHandler handler, Uri baseAddress)
    {
        _app = app;
        Handler = handler;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public EchoChatHandler Handler { get; }
    public Uri BaseAddress { get; }
    public HttpClient Http { get; }
    public IServiceProvider Services => _app.Services;
    public IBatchStore Store => _app.Services.GetRequiredService<IBatchStore>();
    public BatchCoordinator Coordinator => _app.Services.GetRequiredService<BatchCoordinator>();

    public static async Task<BatchTestHost> StartAsync(string sqlitePath, Dictionary<string, string?>? settings = null,
        EchoChatHandler? handler = null, TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var config = new Dictionary<string, string?>
        {
            ["Batch:Store"] = "Sqlite",
            ["Batch:ConnectionString"] = $"Data Source={sqlitePath}",
            ["Batch:SweepIntervalSeconds"] = "0.2",
            ["Batch:MaxConcurrentItems"] = "2",
            ["Batch:MaxFileBytes"] = "65536",
            ["Bus:RetryIntervalsMs:0"] = "10",
        };
        foreach (var (k, v) in settings ?? []) config[k] = v;
        builder.Configuration.AddInMemoryCollection(config);
        handler ??= new EchoChatHandler();
        if (time is not null) builder.Services.AddSingleton(time);
        builder.Services.AddSingleton<IBatchEndpointHandler>(handler);
        builder.AddBatchApi();
        builder.AddPlatformBus();
        var app = builder.Build();
        app.MapBatchApi();
        app.MapMetrics("/metrics", app.Services.GetRequiredService<CollectorRegistry>());
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BatchTestHost(app, handler, new Uri(address));
    }

    public OpenAIClient OpenAi() =>
        new(new ApiKeyCredential("test-key"), new OpenAIClientOptions { Endpoint = new Uri(BaseAddress, "/v1") });

    public async Task<string> UploadAsync(string jsonl, string purpose = "batch", string name = "input.jsonl")
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(purpose), "purpose");
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(jsonl)), "file", name);
        using var response = await Http.PostAsync("/v1/files", form);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonNode.Parse(body)!["id"]!.GetValue<string>();
    }

    public async Task<JsonNode> CreateBatchAsync(string fileId, string endpoint = "/v1/chat/completions")
    {
        using var response = await Http.PostAsJsonAsync("/v1/batches",
            new { input_file_id = fileId, endpoint, completion_window = "24h" });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonNode.Parse(body)!;
    }

    public async Task<JsonNode> GetBatchAsync(string id) => JsonNode.Parse(await Http.GetStringAsync($"/v1/batches/{id}"))!;

    /// <summary>Polls until the batch reaches one of the statuses; fails after a generous bound (no timing assertion).</summary>
    public async Task<JsonNode> WaitForStatusAsync(string id, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        JsonNode batch;
        do
        {
            batch = await GetBatchAsync(id);
            if (statuses.Contains(batch["status"]!.GetValue<string>())) return batch;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        Assert.Fail($"Batch {id} did not reach {string.Join("/", statuses)} within 60 s; last: {batch.ToJsonString()}");
        return batch;
    }

    public static string Line(string customId, string content, string model = "demo", string url = "/v1/chat/completions") =>
        new JsonObject
        {
            ["custom_id"] = customId, ["method"] = "POST", ["url"] = url,
            ["body"] = new JsonObject
            {
                ["model"] = model,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
            },
        }.ToJsonString();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A temporary folder for a test's SQLite file.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("batch-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
