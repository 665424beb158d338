using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapr;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Platform.Batch.Storage;
using Platform.Contracts.Events;
using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Chat;
using Platform.Contracts.Models;
using Platform.ServiceDefaults.Dapr;

namespace Gateway.Tests.Dapr;

/// <summary>
/// The app side of Dapr's contract with Dapr.Client / Dapr.AspNetCore 1.19.0: the calls the services make
/// (PublishEvent, GetSecret, SaveState / GetState / DeleteState) against <see cref="FakeDaprSidecar"/>, and the
/// subscriber side (GET /dapr/subscribe, CloudEvent delivery) as another system would consume the platform events.
/// </summary>
public sealed class DaprContractTests : IAsyncLifetime
{
    private FakeDaprSidecar _sidecar = null!;

    public async Task InitializeAsync() => _sidecar = await FakeDaprSidecar.StartAsync();

    public async Task DisposeAsync() => await _sidecar.DisposeAsync();

    private static DaprOptions Options() => new() { Enabled = true, PubSub = "platform-pubsub", TopicPrefix = "platform", SecretStore = "platform-secrets" };

    [Fact]
    public async Task PublishAsync_BatchCompleted_ReachesPubSubTopicAsJsonData()
    {
        using var client = _sidecar.Client();
        var events = new DaprPlatformEvents(client, Microsoft.Extensions.Options.Options.Create(Options()), NullLogger<DaprPlatformEvents>());
        var at = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        await events.PublishAsync(PlatformTopics.BatchCompleted, new BatchCompleted("batch_1", "/v1/chat/completions", 3, 2, 1, "file-o", "file-e", at), default);

        var sent = Assert.Single(_sidecar.Published);
        Assert.Equal("platform-pubsub", sent.PubsubName);
        Assert.Equal("platform.batch.completed", sent.Topic);
        Assert.Equal("application/json", sent.DataContentType);
        var data = JsonSerializer.Deserialize<BatchCompleted>(sent.Data.ToStringUtf8(), JsonSerializerOptions.Web)!;
        Assert.Equal(new BatchCompleted("batch_1", "/v1/chat/completions", 3, 2, 1, "file-o", "file-e", at), data);
    }

    [Fact]
    public async Task PublishAsync_NoSidecar_LogsAndDoesNotThrow()
    {
        using var client = new global::Dapr.Client.DaprClientBuilder().UseGrpcEndpoint("http://127.0.0.1:1").Build();
        var events = new DaprPlatformEvents(client, Microsoft.Extensions.Options.Options.Create(Options()), NullLogger<DaprPlatformEvents>());
        await events.PublishAsync(PlatformTopics.WorkersUp, new WorkersUp("w1", ["demo"], DateTimeOffset.UtcNow), default);
    }

    [Fact]
    public async Task WorkerEventsPublisher_WorkerAppearsAndWithdraws_PublishesUpThenDown()
    {
        using var client = _sidecar.Client();
        var time = TimeProvider.System;
        var directory = new ModelDirectory(time);
        var events = new DaprPlatformEvents(client, Microsoft.Extensions.Options.Options.Create(Options()), NullLogger<DaprPlatformEvents>());
        var services = new ServiceCollection().AddSingleton(directory).BuildServiceProvider();
        var publisher = new WorkerEventsPublisher(services, events, time);
        await publisher.StartAsync(default);
        directory.Apply(new ModelsAnnounced("worker-a", "text-llm", [new ServedModel("demo", 512, 4, true)], time.GetUtcNow(), TimeSpan.FromMinutes(1)));
        await WaitAsync(() => _sidecar.Published.Count >= 1);
        directory.Withdraw("worker-a");
        await WaitAsync(() => _sidecar.Published.Count >= 2);
        await publisher.StopAsync(default);

        var all = _sidecar.Published.ToList();
        Assert.Equal(["platform.workers.up", "platform.workers.down"], all.Select(p => p.Topic));
        var up = JsonSerializer.Deserialize<WorkersUp>(all[0].Data.ToStringUtf8(), JsonSerializerOptions.Web)!;
        Assert.Equal("worker-a", up.WorkerId);
        Assert.Equal(["demo"], up.Models);
        var down = JsonSerializer.Deserialize<WorkersDown>(all[1].Data.ToStringUtf8(), JsonSerializerOptions.Web)!;
        Assert.Equal("withdrawn", down.Reason);
    }

    [Fact]
    public async Task AddPlatformDapr_Enabled_ReadsBrokerAndDatabaseCredentialsFromSecretStore()
    {
        _sidecar.Secrets[("platform-secrets", "platform-rabbitmq")] = new() { ["username"] = "rmq-user", ["password"] = "rmq-pass" };
        _sidecar.Secrets[("platform-secrets", "platform-postgresql")] = new() { ["password"] = "pg-pass" };
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Dapr:Enabled"] = "true", ["Dapr:SecretStore"] = "platform-secrets",
            ["Dapr:BrokerSecret"] = "platform-rabbitmq", ["Dapr:DatabaseSecret"] = "platform-postgresql",
            ["Dapr:SidecarWaitSeconds"] = "5",
            ["Bus:RabbitMq:Username"] = "from-env", // the secret store wins over environment settings
        });
        builder.AddPlatformDapr(_sidecar.Client);
        Assert.Equal("rmq-user", builder.Configuration["Bus:RabbitMq:Username"]);
        Assert.Equal("rmq-pass", builder.Configuration["Bus:RabbitMq:Password"]);
        Assert.Equal("pg-pass", builder.Configuration["Batch:Password"]);
        using var host = builder.Build();
        Assert.IsType<DaprPlatformEvents>(host.Services.GetRequiredService<IPlatformEvents>());
    }

    [Fact]
    public void AddPlatformDapr_SecretMissing_FailsStartNamingTheSecret()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Dapr:Enabled"] = "true", ["Dapr:BrokerSecret"] = "absent-secret", ["Dapr:SidecarWaitSeconds"] = "2",
        });
        var ex = Assert.Throws<InvalidOperationException>(() => builder.AddPlatformDapr(_sidecar.Client));
        Assert.Contains("absent-secret", ex.Message);
    }

    [Fact]
    public void AddPlatformDapr_Disabled_NoDaprClientAndSilentEvents()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddPlatformDapr();
        using var host = builder.Build();
        Assert.IsType<NoPlatformEvents>(host.Services.GetRequiredService<IPlatformEvents>());
        Assert.Null(host.Services.GetService<global::Dapr.Client.DaprClient>());
    }

    [Fact]
    public async Task DaprStateBlobStore_PutGetDelete_ThroughStateApi()
    {
        using var client = _sidecar.Client();
        var blobs = new DaprStateBlobStore(client, "platform-state");
        var png = new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0, 255 };
        Assert.Null(await blobs.GetAsync("images/img-1", default));
        await blobs.PutAsync("images/img-1", png, default);
        Assert.Equal(png, _sidecar.State[("platform-state", "images/img-1")].ToByteArray());
        Assert.Equal(png, await blobs.GetAsync("images/img-1", default));
        Assert.True(await blobs.DeleteAsync("images/img-1", default));
        Assert.Null(await blobs.GetAsync("images/img-1", default));
    }

    /// <summary>
    /// Another system subscribing with Dapr.AspNetCore: the subscription list daprd reads at start, and a CloudEvent as
    /// daprd delivers it (the published record as data) reaching the handler as the same record.
    /// </summary>
    [Fact]
    public async Task Subscriber_CloudEventOfBatchCompleted_DeliveredToTopicHandler()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var received = new TaskCompletionSource<BatchCompleted>();
        var app = builder.Build();
        app.UseCloudEvents();
        app.MapSubscribeHandler();
        app.MapPost("/events/batch-completed", (BatchCompleted e) => { received.TrySetResult(e); return Results.Ok(); })
            .WithTopic("platform-pubsub", PlatformTopics.Topic("platform", PlatformTopics.BatchCompleted));
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
            var list = await http.GetStringAsync("/dapr/subscribe");
            var sub = Assert.Single(JsonDocument.Parse(list).RootElement.EnumerateArray());
            Assert.True(Prop(sub, "pubsubname")?.GetString() == "platform-pubsub", list);
            Assert.True(Prop(sub, "topic")?.GetString() == "platform.batch.completed", list);
            // Dapr's programmatic subscription: "route", or "routes": {"default": ...} in the newer shape.
            var route = Prop(sub, "route")?.GetString() ?? (Prop(sub, "routes") is { } routes ? Prop(routes, "default")?.GetString() : null);
            Assert.True(route == "events/batch-completed", list); // daprd calls the app at "/" + route

            var at = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
            var payload = new BatchCompleted("batch_9", "/v1/chat/completions", 5, 5, 0, "file-out", null, at);
            var cloudEvent = new
            {
                specversion = "1.0", type = "com.dapr.event.sent", source = "platform-gateway", id = Guid.NewGuid().ToString(),
                datacontenttype = "application/json", topic = "platform.batch.completed", pubsubname = "platform-pubsub",
                data = payload,
            };
            using var content = new StringContent(JsonSerializer.Serialize(cloudEvent, JsonSerializerOptions.Web), Encoding.UTF8, "application/cloudevents+json");
            using var response = await http.PostAsync("/" + route, content);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            Assert.Equal(payload, await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static JsonElement? Prop(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) is { Value.ValueKind: not JsonValueKind.Undefined } p
            ? p.Value : null;

    private static Microsoft.Extensions.Logging.ILogger<T> NullLogger<T>() => Microsoft.Extensions.Logging.Abstractions.NullLogger<T>.Instance;

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 20 s");
            await Task.Delay(20);
        }
    }
}
