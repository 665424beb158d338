using System.Net;
using System.Text.Json.Nodes;
using Platform.Inference.Models;
using static Gateway.Tests.Endpoints.ApiTestHttp;

namespace Gateway.Tests.Endpoints;

/// <summary>
/// usage.prompt_tokens_details.cached_tokens (OpenAI's field) through the gateway host: the prompt tokens the worker's
/// engine took from its prefix cache. Each test starts its own host, so the cache is cold at its first request.
/// </summary>
public sealed class PromptCacheUsageTests
{
    private const int BlockTokens = 16;

    /// <summary>A long shared system prompt (well over a few KV blocks in the tiny tokenizer).</summary>
    private static readonly string SystemPrompt = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 6)) + TinyModelFactory.Corpus[..200];

    private static Task<GatewayHost> StartAsync(bool prefixCaching = true) => GatewayHost.StartAsync(new Dictionary<string, string?>
    {
        [$"Models:{GatewayHost.Model}:Engine:KvCacheBlockTokens"] = BlockTokens.ToString(),
        [$"Models:{GatewayHost.Model}:Engine:PrefixCaching"] = prefixCaching ? "true" : "false",
    });

    private static string Chat(string question, string extra = "") =>
        new JsonObject
        {
            ["model"] = GatewayHost.Model,
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = SystemPrompt },
                new JsonObject { ["role"] = "user", ["content"] = question }),
            ["max_tokens"] = 4,
            ["temperature"] = 0,
        }.ToJsonString()[..^1] + extra + "}";

    private static (int Prompt, int Cached) Usage(JsonNode body)
    {
        var usage = body["usage"]!;
        return (usage["prompt_tokens"]!.GetValue<int>(), usage["prompt_tokens_details"]!["cached_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task ChatCompletions_SecondRequestWithSameSystemPrompt_ReportsCachedBlocks()
    {
        await using var host = await StartAsync();

        var (s1, first) = await PostAsync(host.Http, "/v1/chat/completions", Chat("What is in this image?"));
        var (s2, second) = await PostAsync(host.Http, "/v1/chat/completions", Chat("Describe the weather today."));

        Assert.Equal(HttpStatusCode.OK, s1);
        Assert.Equal(HttpStatusCode.OK, s2);
        var (prompt1, cached1) = Usage(first);
        var (prompt2, cached2) = Usage(second);
        Assert.True(prompt1 > 4 * BlockTokens, $"the system prompt spans several blocks ({prompt1} tokens)");
        Assert.Equal(0, cached1);
        Assert.True(cached2 > 0, "the second request reuses the system prompt's blocks");
        Assert.Equal(0, cached2 % BlockTokens);
        Assert.True(cached2 < prompt2, $"{cached2} cached of {prompt2}: the question itself is prefilled");
    }

    [Fact]
    public async Task ChatCompletions_StreamWithUsage_ReportsCachedTokensInTheUsageChunk()
    {
        await using var host = await StartAsync();
        await PostAsync(host.Http, "/v1/chat/completions", Chat("What is in this image?"));

        var (events, done) = await StreamAsync(host.Http, "/v1/chat/completions",
            Chat("Describe the weather today.", ""","stream":true,"stream_options":{"include_usage":true}"""));

        Assert.True(done);
        var cached = events.Last()["usage"]!["prompt_tokens_details"]!["cached_tokens"]!.GetValue<int>();
        Assert.True(cached > 0);
        Assert.Equal(0, cached % BlockTokens);
    }

    [Fact]
    public async Task Completions_SamePrefix_SecondReportsCachedTokens()
    {
        await using var host = await StartAsync();
        string Body(string tail) => new JsonObject
        {
            ["model"] = GatewayHost.Model, ["prompt"] = SystemPrompt + tail, ["max_tokens"] = 4, ["temperature"] = 0,
        }.ToJsonString();

        var (_, first) = await PostAsync(host.Http, "/v1/completions", Body(" Question one?"));
        var (_, second) = await PostAsync(host.Http, "/v1/completions", Body(" Another question entirely?"));

        Assert.Equal(0, Usage(first).Cached);
        Assert.True(Usage(second).Cached > 0);
        Assert.Equal(0, Usage(second).Cached % BlockTokens);
    }

    [Fact]
    public async Task ChatCompletions_PrefixCachingOff_ReportsZero()
    {
        await using var host = await StartAsync(prefixCaching: false);
        await PostAsync(host.Http, "/v1/chat/completions", Chat("What is in this image?"));

        var (_, second) = await PostAsync(host.Http, "/v1/chat/completions", Chat("Describe the weather today."));

        Assert.Equal(0, Usage(second).Cached);
    }
}
