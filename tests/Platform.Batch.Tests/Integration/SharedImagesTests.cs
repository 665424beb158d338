using ImageGen;
using TextLlm;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway;
using Gateway.Batch;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Platform.Batch.Tests.Storage;
using Platform.ServiceDefaults.Bus;

namespace Platform.Batch.Tests.Integration;

/// <summary>
/// Two all-in-one gateways (as Program.cs composes them, each with the demo model in process) sharing one PostgreSQL
/// database with Images:Store = Database: an image produced through gateway A is served by gateway B, also after A is
/// gone, and the image URLs in batch results start with Images:PublicBaseUrl.
/// </summary>
public sealed partial class SharedImagesTests : IAsyncLifetime
{
    private const string PublicBase = "https://platform.example.test";
    private readonly List<WebApplication> _apps = [];

    public Task InitializeAsync() => Task.CompletedTask;

    private static string DemoModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return Path.Combine(dir.FullName, "models", "demo");
        throw new DirectoryNotFoundException("Platform.sln not found above the test output");
    }

    private async Task<HttpClient> StartGatewayAsync(string schema)
    {
        var root = Directory.CreateTempSubdirectory("shared-images-").FullName;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = root });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:demo:Path"] = DemoModel(),
            ["Models:demo:Multimodal"] = "true",
            ["Models:demo:Engine:MaxConcurrentSequences"] = "2",
            ["Images:Store"] = "Database",
            ["Images:PublicBaseUrl"] = PublicBase,
            ["Batch:Store"] = "Postgres",
            ["Batch:ConnectionString"] = PostgresTestServer.ConnectionString,
            ["Batch:PostgresSchema"] = schema,
            ["Batch:SweepIntervalSeconds"] = "0.3",
            ["Batch:CoordinatorLeaseSeconds"] = "1.5",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddGateway();
        builder.AddTextLlmWorker();   // all-in-one, as services/AllInOne composes it
        builder.AddImageGenWorker();
        builder.AddGatewayBatch();
        builder.AddPlatformBus();
        var app = builder.Build();
        app.MapGateway();
        app.MapBatchApi();
        await app.StartAsync();
        _apps.Add(app);
        var http = new HttpClient
        {
            BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()),
            Timeout = TimeSpan.FromSeconds(120),
        };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (!(await http.GetAsync("/health", deadline.Token)).IsSuccessStatusCode) await Task.Delay(100, deadline.Token);
        return http;
    }

    [GeneratedRegex(@"/v1/images/img-[0-9a-f]{32}\.png")]
    private static partial Regex ImagePath();

    [SkippableFact]
    public async Task ImageMadeThroughA_ServedByBAfterAStops_BatchResultUrlsUsePublicBase()
    {
        PostgresTestServer.RequireServer();
        var schema = PostgresTestServer.NewSchema();
        var a = await StartGatewayAsync(schema);
        var b = await StartGatewayAsync(schema);

        using var generated = await a.PostAsJsonAsync("/v1/images/generations",
            new { prompt = "a large red circle at the middle center", response_format = "url" });
        var body = JsonNode.Parse(await generated.Content.ReadAsStringAsync())!;
        Assert.True(generated.IsSuccessStatusCode, body.ToJsonString());
        var url = body["data"]![0]!["url"]!.GetValue<string>();
        Assert.StartsWith(PublicBase + "/v1/images/img-", url);
        var path = new Uri(url).AbsolutePath;
        var fromA = await a.GetByteArrayAsync(path);
        Assert.Equal(fromA, await b.GetByteArrayAsync(path));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], fromA[..4]);

        // A batch through B whose answer holds an image: the URL in the result is the public one, and A serves it.
        var line = new JsonObject
        {
            ["custom_id"] = "img-1", ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = new JsonObject
            {
                ["model"] = "demo", ["max_tokens"] = 32, ["temperature"] = 0,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "draw a large red circle at the middle center." }),
            },
        }.ToJsonString();
        using var form = new MultipartFormDataContent { { new StringContent("batch"), "purpose" }, { new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(line + "\n")), "file", "in.jsonl" } };
        using var upload = await b.PostAsync("/v1/files", form);
        var fileId = JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        using var created = await b.PostAsJsonAsync("/v1/batches", new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" });
        var batchId = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        JsonNode batch;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        do
        {
            await Task.Delay(200);
            batch = JsonNode.Parse(await b.GetStringAsync($"/v1/batches/{batchId}"))!;
            Assert.True(DateTime.UtcNow < deadline, batch.ToJsonString());
        } while (batch["status"]!.GetValue<string>() is not ("completed" or "failed"));
        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        var result = JsonNode.Parse(await a.GetStringAsync($"/v1/files/{batch["output_file_id"]!.GetValue<string>()}/content"))!;
        var content = result["response"]!["body"]!["choices"]![0]!["message"]!["content"]!.GetValue<string>();
        var match = ImagePath().Match(content);
        Assert.True(match.Success, content);
        Assert.Contains($"]({PublicBase}{match.Value})", content);

        // The gateway that made the batch's image stops; the other still serves it.
        await _apps[1].StopAsync();
        using var late = await a.GetAsync(match.Value);
        Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        Assert.Equal("image/png", late.Content.Headers.ContentType!.MediaType);
    }

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            try { await app.StopAsync(); } catch (ObjectDisposedException) { }
            await app.DisposeAsync();
        }
    }
}
