using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Gateway.Tests.Judge;

/// <summary>
/// The judge service in the all-in-one gateway on the in-memory bus, with a tiny random Llama-2-format judge (SentencePiece)
/// the fixture writes: the service path, the API's shape and errors, order independence of set mode, batches.
/// </summary>
public sealed class JudgeFixture : IAsyncLifetime
{
    public const string Judge = "tiny-judge";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "judge-tests-" + Guid.NewGuid().ToString("N"));
    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var judge = TinyModelFactory.Create(Path.Combine(_folder, "judge"),
            TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false, MaxPositionEmbeddings = 4096 }, TokenizerKind.SentencePiece, seed: 9, chatTemplate: null);
        Host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            [$"Models:{Judge}:Path"] = judge,
            [$"Models:{Judge}:Kind"] = "judge",
            [$"Models:{Judge}:Engine:MaxConcurrentSequences"] = "2",
            [$"Models:{Judge}:Engine:MaxContextTokens"] = "4096",
            ["Judge:MaxTokens"] = "12",
            ["Batch:ConnectionString"] = $"Data Source={Path.Combine(_folder, "batch.db")}",
            ["Batch:SweepIntervalSeconds"] = "0.2",
        }, batch: true);
        // The judge announces itself beside the chat model.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!(await Host.Http.GetStringAsync("/v1/models", deadline.Token)).Contains(Judge, StringComparison.Ordinal))
            await Task.Delay(50, deadline.Token);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}

public class JudgeEndpointsTests(JudgeFixture fixture) : IClassFixture<JudgeFixture>
{
    private HttpClient Http => fixture.Host.Http;

    private static JsonArray Conversation(string text = "describe the image.") =>
        new(new JsonObject { ["role"] = "user", ["content"] = text });

    private async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(string path, JsonObject body)
    {
        using var response = await Http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task Models_JudgeModel_CarriesJudgeCapability()
    {
        var models = JsonNode.Parse(await Http.GetStringAsync("/v1/models"))!["data"]!.AsArray();
        var judge = models.Single(m => m!["id"]!.GetValue<string>() == JudgeFixture.Judge)!;
        Assert.Equal(["judge"], judge["capabilities"]!.AsArray().Select(c => c!.GetValue<string>()));
        var chat = models.Single(m => m!["id"]!.GetValue<string>() == GatewayHost.Model)!;
        Assert.Null(chat["capabilities"]);
    }

    [Fact]
    public async Task Ratings_ValidRequest_ReturnsRatingCritiqueRawAndUsage()
    {
        var (status, body) = await PostAsync("/v1/judge/ratings", new JsonObject
        {
            ["model"] = JudgeFixture.Judge, ["messages"] = Conversation(), ["response"] = "a small red circle at the top left",
        });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("judge.rating", body["object"]!.GetValue<string>());
        // A random judge writes random text: the rating is whatever its last verdict says, null when there is none.
        var raw = body["raw"]!.GetValue<string>();
        Assert.Equal(Platform.Judging.VerdictParser.ParseRating(raw), body["rating"]?.GetValue<int>());
        Assert.True(body.AsObject().ContainsKey("rating"));
        Assert.Equal(Platform.Judging.VerdictParser.Critique(raw), body["critique"]!.GetValue<string>());
        Assert.True(body["usage"]!["prompt_tokens"]!.GetValue<int>() > 100);
        Assert.InRange(body["usage"]!["completion_tokens"]!.GetValue<int>(), 1, 12);
    }

    [Fact]
    public async Task Comparisons_SetMode_SwappedResponses_GiveBitwiseSameCritiqueAndSameWinner()
    {
        string a = "a small red circle at the top left", b = "a large blue square at the bottom right";
        var (s1, first) = await PostAsync("/v1/judge/comparisons", new JsonObject
        {
            ["model"] = JudgeFixture.Judge, ["messages"] = Conversation(), ["responses"] = new JsonArray(a, b), ["mode"] = "set",
        });
        var (s2, swapped) = await PostAsync("/v1/judge/comparisons", new JsonObject
        {
            ["model"] = JudgeFixture.Judge, ["messages"] = Conversation(), ["responses"] = new JsonArray(b, a), ["mode"] = "set",
        });
        Assert.Equal(HttpStatusCode.OK, s1);
        Assert.Equal(HttpStatusCode.OK, s2);
        Assert.Equal(first["raw"]!.GetValue<string>(), swapped["raw"]!.GetValue<string>());
        Assert.Equal(first["critique"]!.GetValue<string>(), swapped["critique"]!.GetValue<string>());
        Assert.True(first["raw"]!.GetValue<string>().Length > 0);
        // The same response wins (its index follows it), or both are a tie / no verdict.
        string Named(JsonNode body, string x, string y) => body["winner"] switch
        {
            null => "none",
            var w when w.GetValueKind() == System.Text.Json.JsonValueKind.String => w.GetValue<string>(),
            var w => w.GetValue<int>() == 0 ? x : y,
        };
        Assert.Equal(Named(first, a, b), Named(swapped, b, a));
        Assert.Equal("set", first["mode"]!.GetValue<string>());
    }

    [Fact]
    public async Task Comparisons_OrderedMode_IsAutoJsProtocol()
    {
        var (status, body) = await PostAsync("/v1/judge/comparisons", new JsonObject
        {
            ["model"] = JudgeFixture.Judge, ["messages"] = Conversation(), ["responses"] = new JsonArray("one", "two"),
        });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ordered", body["mode"]!.GetValue<string>());
        var raw = body["raw"]!.GetValue<string>();
        object? expected = Platform.Judging.VerdictParser.ParseComparison(raw) switch
        {
            Platform.Judging.PairwiseVerdict.Response1 => 0, Platform.Judging.PairwiseVerdict.Response2 => 1, Platform.Judging.PairwiseVerdict.Tie => "tie", _ => null,
        };
        Assert.Equal(expected?.ToString(), body["winner"]?.ToString());
    }

    public static TheoryData<string, string, int, string, string?> Errors() => new()
    {
        { "/v1/judge/ratings", """{"model":"nope","messages":[{"role":"user","content":"q"}],"response":"r"}""", 404, "model_not_found", "model" },
        { "/v1/judge/ratings", """{"model":"tiny","messages":[{"role":"user","content":"q"}],"response":"r"}""", 404, "model_not_found", "model" },
        { "/v1/judge/ratings", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}]}""", 400, "missing_required_parameter", "response" },
        { "/v1/judge/ratings", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"response":""}""", 400, "empty_string", "response" },
        { "/v1/judge/ratings", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"response":[]}""", 400, "empty_array", "response" },
        { "/v1/judge/ratings", """{"messages":[{"role":"user","content":"q"}],"response":"r"}""", 400, "missing_required_parameter", "model" },
        { "/v1/judge/ratings", """{"model":"tiny-judge","messages":[],"response":"r"}""", 400, "empty_array", "messages" },
        { "/v1/judge/ratings", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"response":"a <|start_2d|>b"}""", 400, "invalid_value", "response" },
        { "/v1/judge/ratings", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"response":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}""", 400, "invalid_image", "response[0].image_url.url" },
        { "/v1/judge/ratings", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"response":""" + "\"r\"", 400, "invalid_json", "" },
        { "/v1/judge/comparisons", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"responses":["a","b","c"]}""", 400, "invalid_value", "responses" },
        { "/v1/judge/comparisons", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"responses":["a"]}""", 400, "invalid_value", "responses" },
        { "/v1/judge/comparisons", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}]}""", 400, "missing_required_parameter", "responses" },
        { "/v1/judge/comparisons", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"responses":["a",""]}""", 400, "empty_string", "responses[1]" },
        { "/v1/judge/comparisons", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"responses":["a",null]}""", 400, "missing_required_parameter", "responses[1]" },
        { "/v1/judge/comparisons", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"responses":["a","b"],"mode":"shuffled"}""", 400, "invalid_value", "mode" },
        { "/v1/judge/comparisons", """{"model":"nope","messages":[{"role":"user","content":"q"}],"responses":["a","b"]}""", 404, "model_not_found", "model" },
        { "/v1/judge/ratings", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"response":"r","temperature":0}""", 400, "unknown_parameter", "temperature" },
        { "/v1/judge/comparisons", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}],"responses":["a","b"],"swap":true}""", 400, "unknown_parameter", "swap" },
        { "/v1/chat/completions", """{"model":"tiny-judge","messages":[{"role":"user","content":"q"}]}""", 404, "model_not_found", "model" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public async Task Judge_BadRequest_GetsOpenAiError(string path, string json, int status, string code, string? param)
    {
        using var response = await Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(code, body["error"]!["code"]?.GetValue<string>());
        Assert.Equal(param, body["error"]!["param"]?.GetValue<string>());
        Assert.Equal(status == 404 ? "invalid_request_error" : "invalid_request_error", body["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Batch_OfJudgements_EveryLineGetsItsVerdict()
    {
        var lines = Enumerable.Range(0, 3).Select(i => new JsonObject
        {
            ["custom_id"] = $"cmp-{i}", ["method"] = "POST", ["url"] = "/v1/judge/comparisons",
            ["body"] = new JsonObject { ["model"] = JudgeFixture.Judge, ["messages"] = Conversation(), ["responses"] = new JsonArray($"answer {i}", "other"), ["mode"] = "set" },
        });
        var results = await BatchRun.RunAsync(Http, lines, "/v1/judge/comparisons");
        Assert.Equal(["cmp-0", "cmp-1", "cmp-2"], results.Select(r => r["custom_id"]!.GetValue<string>()).Order());
        Assert.All(results, r =>
        {
            Assert.Equal(200, r["response"]!["status_code"]!.GetValue<int>());
            Assert.Equal("judge.comparison", r["response"]!["body"]!["object"]!.GetValue<string>());
        });
    }
}
