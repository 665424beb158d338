using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Platform.Integration.Tests;

/// <summary>
/// The judge in distributed mode: a gateway (HostWorkers=false) and two Judge processes on RabbitMQ serving one judge
/// model's queue as competing consumers (one engine slot each). The judge model name is unique per run.
/// </summary>
public sealed class DistributedJudgeFixture : DistributedFixture
{
    public string Judge { get; } = "it-judge-" + Guid.NewGuid().ToString("N")[..8];

    protected override IEnumerable<string> ModelsToWaitFor => [Judge];

    protected override Task<ServiceProcess> StartProcessesAsync()
    {
        var judge = TinyModelFactory.Create(Path.Combine(Folder, "judge"),
            TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false, MaxPositionEmbeddings = 4096 }, TokenizerKind.SentencePiece, seed: 9, chatTemplate: null);
        Dictionary<string, string> Worker(string id) => new(BusSettings())
        {
            [$"Models__{Judge}__Path"] = judge,
            [$"Models__{Judge}__Kind"] = "judge",
            [$"Models__{Judge}__Engine__MaxConcurrentSequences"] = "1",
            [$"Models__{Judge}__Engine__MaxContextTokens"] = "4096",
            [$"Models__{Judge}__Engine__Threads"] = "1",
            ["Judge__Models__0"] = Judge,
            ["Judge__InstanceId"] = id,
            ["Judge__MaxTokens"] = "8",
            ["Judge__AnnounceIntervalSeconds"] = "2",
        };
        var gateway = Track(ServiceProcess.Start("gateway", "GatewayDll", new Dictionary<string, string>(BusSettings()) { ["Gateway__HostWorkers"] = "false" }));
        Track(ServiceProcess.Start("judge-a", "JudgeDll", Worker("judge-a")));
        Track(ServiceProcess.Start("judge-b", "JudgeDll", Worker("judge-b")));
        return Task.FromResult(gateway);
    }
}

public class DistributedJudgeTests(DistributedJudgeFixture platform) : IClassFixture<DistributedJudgeFixture>
{
    private void Require()
    {
        RabbitMqBroker.Require();
        Assert.True(platform.Started, "The distributed judge did not start:\n" + platform.Logs());
    }

    private async Task<JsonNode> CompareAsync(string a, string b)
    {
        using var response = await platform.Gateway.Http.PostAsJsonAsync("/v1/judge/comparisons", new
        {
            model = platform.Judge, messages = new[] { new { role = "user", content = "draw a small red circle at the top left." } },
            responses = new[] { a, b }, mode = "set",
        });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body + "\n" + platform.Logs());
        return JsonNode.Parse(body)!;
    }

    [SkippableFact]
    public async Task Models_ThroughRabbitMq_ListJudgeWithCapability()
    {
        Require();
        var models = JsonNode.Parse(await platform.Gateway.Http.GetStringAsync("/v1/models"))!["data"]!.AsArray();
        var judge = models.Single(m => m!["id"]!.GetValue<string>() == platform.Judge)!;
        Assert.Equal("judge", judge["capabilities"]![0]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task Comparisons_ConcurrentOverTwoWorkers_SpreadAndStayOrderIndependent()
    {
        Require();
        // Four concurrent pairs, each also sent swapped: with one slot per worker both workers must take some, and a
        // pair and its swap give the same text whichever worker judged them.
        var pairs = Enumerable.Range(0, 4).Select(i => ($"a small red circle at the top left {i}", $"a large blue square {i}")).ToList();
        var results = await Task.WhenAll(pairs.Select(async p => (await CompareAsync(p.Item1, p.Item2), await CompareAsync(p.Item2, p.Item1))));
        foreach (var (first, swapped) in results)
            Assert.Equal(first["raw"]!.GetValue<string>(), swapped["raw"]!.GetValue<string>());
        var workers = results.SelectMany(r => new[] { r.Item1, r.Item2 }).Select(r => r["system_fingerprint"]!.GetValue<string>()).ToHashSet();
        Assert.Equal(["judge-a", "judge-b"], workers.Order());
    }

    [SkippableFact]
    public async Task Ratings_ThroughRabbitMq_ReturnVerdictFields()
    {
        Require();
        using var response = await platform.Gateway.Http.PostAsJsonAsync("/v1/judge/ratings", new
        {
            model = platform.Judge, messages = new[] { new { role = "user", content = "draw a small red circle." } }, response = "a small red circle",
        });
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());
        Assert.True(body.AsObject().ContainsKey("rating"));
        Assert.StartsWith("judge-", body["system_fingerprint"]!.GetValue<string>());
    }
}
