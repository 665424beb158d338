using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Gateway.Tests.MoeAdapter;
using OpenAI;
using OpenAI.Chat;

namespace Platform.Integration.Tests;

/// <summary>
/// The MoE worker in distributed mode: a gateway (HostWorkers=false) and a MoeAdapter process on RabbitMQ serving a
/// tiny random image-token model (unique name per run, so its queues are its own).
/// </summary>
public sealed class DistributedMoeFixture : DistributedFixture
{
    public string Model { get; } = "it-moe-" + Guid.NewGuid().ToString("N")[..8];

    protected override IEnumerable<string> ModelsToWaitFor => [Model];

    protected override Task<ServiceProcess> StartProcessesAsync()
    {
        var folder = ImageTokenFolder.Create(Path.Combine(Folder, "model"), beginScale: 40f);
        var gateway = Track(ServiceProcess.Start("gateway", "GatewayDll", new Dictionary<string, string>(BusSettings()) { ["Gateway__HostWorkers"] = "false" }));
        Track(ServiceProcess.Start("moe-a", "MoeAdapterDll", new Dictionary<string, string>(BusSettings())
        {
            [$"Models__{Model}__Path"] = folder,
            [$"Models__{Model}__Kind"] = "moe",
            [$"Models__{Model}__Engine__MaxConcurrentSequences"] = "2",
            [$"Models__{Model}__Engine__Threads"] = "1",
            [$"Models__{Model}__Engine__PrefixCaching"] = "false",
            ["MoeAdapter__Models__0"] = Model,
            ["MoeAdapter__InstanceId"] = "moe-a",
            ["MoeAdapter__AnnounceIntervalSeconds"] = "2",
        }));
        return Task.FromResult(gateway);
    }
}

public class DistributedMoeTests(DistributedMoeFixture platform) : IClassFixture<DistributedMoeFixture>
{
    private void Require()
    {
        RabbitMqBroker.Require();
        Assert.True(platform.Started, "The distributed MoE worker did not start:\n" + platform.Logs());
    }

    [SkippableFact]
    public async Task CompleteChat_ThroughRabbitMq_ReturnsPicturesTheGatewayServes()
    {
        Require();
        var client = new ChatClient(platform.Model, new ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(platform.Gateway.Address, "/v1") });
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("draw a blue square.")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 });

        var urls = System.Text.RegularExpressions.Regex.Matches(completion.Content[0].Text, @"!\[image\]\(([^)]+)\)").Select(m => m.Groups[1].Value).ToList();
        Assert.True(urls.Count > 0, completion.Content[0].Text + "\n" + platform.Logs());
        using var png = await platform.Gateway.Http.GetAsync(urls[0]);
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        var (width, height, _) = Platform.Multimodal.Imaging.ImageCodec.DecodeRgb(await png.Content.ReadAsByteArrayAsync());
        Assert.Equal((64, 64), (width, height));
        Assert.Equal("moe-a", completion.SystemFingerprint);
    }

    [SkippableFact]
    public async Task Routing_ThroughRabbitMq_CountsARequestsTokens()
    {
        Require();
        async Task<JsonNode> RoutingAsync()
        {
            var body = await platform.Gateway.Http.GetStringAsync($"/v1/models/{platform.Model}/routing");
            return JsonNode.Parse(body)!;
        }
        var before = (await RoutingAsync())["layers"]![0]!;
        using var response = await platform.Gateway.Http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = platform.Model, messages = new[] { new { role = "user", content = "hello" } }, temperature = 0, max_tokens = 6,
        });
        var chat = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, chat.ToJsonString());
        var routing = await RoutingAsync();
        var after = routing["layers"]![0]!;
        var usage = chat["usage"]!;
        long Count(JsonNode layer, string name) => layer[name]!.GetValue<long>();
        Assert.Equal(usage["prompt_tokens"]!.GetValue<long>() + usage["completion_tokens"]!.GetValue<long>() - 1,
            Count(after, "text_tokens") + Count(after, "image_tokens") - Count(before, "text_tokens") - Count(before, "image_tokens"));
        Assert.Equal("moe-a", routing["worker"]!.GetValue<string>());
    }
}
