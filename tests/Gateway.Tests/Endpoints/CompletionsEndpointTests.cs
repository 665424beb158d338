using System.Net;
using System.Text.Json.Nodes;
using static Gateway.Tests.Endpoints.ApiTestHttp;

namespace Gateway.Tests.Endpoints;

/// <summary>POST /v1/completions on the all-in-one gateway (tiny random model, in-memory bus).</summary>
public class CompletionsEndpointTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private HttpClient Http => fixture.Host.Http;

    private static string Body(string extra, string prompt = "\"Once upon a time\"") =>
        $$"""{"model":"{{GatewayHost.Model}}","prompt":{{prompt}}{{extra}}}""";

    private Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(string json) => ApiTestHttp.PostAsync(Http, "/v1/completions", json);

    [Fact]
    public async Task Post_StringPrompt_ReturnsTextCompletionWithUsage()
    {
        var (status, body) = await PostAsync(Body(""","max_tokens":5,"temperature":0,"ignore_eos":true"""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text_completion", body["object"]!.GetValue<string>());
        Assert.StartsWith("cmpl-", body["id"]!.GetValue<string>());
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal(0, choice["index"]!.GetValue<int>());
        Assert.Equal("length", choice["finish_reason"]!.GetValue<string>());
        Assert.True(choice.AsObject().ContainsKey("logprobs"));
        Assert.Null(choice["logprobs"]);
        Assert.Equal(5, body["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.True(body["usage"]!["prompt_tokens"]!.GetValue<int>() > 0);
    }

    [Fact]
    public async Task Post_NoMaxTokens_UsesOpenAiDefaultOf16()
    {
        var (status, body) = await PostAsync(Body(""","temperature":0,"ignore_eos":true"""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(16, body["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Post_PromptListWithN_ChoicesPerPromptInOrderAndUsageSumsPrompts()
    {
        var single = new List<int>();
        var texts = new List<string>();
        foreach (var p in new[] { "\"The sea\"", "\"A long story about a red square\"" })
        {
            var (_, one) = await PostAsync(Body(""","max_tokens":4,"temperature":0,"ignore_eos":true""", p));
            single.Add(one["usage"]!["prompt_tokens"]!.GetValue<int>());
            texts.Add(one["choices"]![0]!["text"]!.GetValue<string>());
        }
        var (status, body) = await PostAsync(Body(""","max_tokens":4,"temperature":0,"ignore_eos":true,"n":2""",
            """["The sea","A long story about a red square"]"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var choices = body["choices"]!.AsArray();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c!["index"]!.GetValue<int>()));
        // Greedy: both choices of a prompt equal that prompt's single answer.
        Assert.Equal([texts[0], texts[0], texts[1], texts[1]], choices.Select(c => c!["text"]!.GetValue<string>()));
        Assert.Equal(single.Sum(), body["usage"]!["prompt_tokens"]!.GetValue<int>());
        Assert.Equal(16, body["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Post_TokenIdPrompt_IsAccepted()
    {
        var (status, body) = await PostAsync(Body(""","max_tokens":3,"temperature":0,"ignore_eos":true""", "[5,300,45,77]"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(4, body["usage"]!["prompt_tokens"]!.GetValue<int>());
        var (outside, error) = await PostAsync(Body(""","max_tokens":3""", "[5,100000]"));
        Assert.Equal(HttpStatusCode.BadRequest, outside);
        AssertError(error, "prompt", "invalid_value");
    }

    [Fact]
    public async Task Post_Echo_PrependsThePrompt()
    {
        var (_, plain) = await PostAsync(Body(""","max_tokens":4,"temperature":0,"ignore_eos":true"""));
        var (status, echoed) = await PostAsync(Body(""","max_tokens":4,"temperature":0,"ignore_eos":true,"echo":true"""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Once upon a time" + plain["choices"]![0]!["text"]!.GetValue<string>(), echoed["choices"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Post_EchoWithLogprobs_PromptTokensComeFirstThenTheCompletion()
    {
        var (status, body) = await PostAsync(Body(""","max_tokens":3,"temperature":0,"ignore_eos":true,"echo":true,"logprobs":1"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var choice = body["choices"]![0]!;
        var lp = choice["logprobs"]!;
        var tokens = lp["tokens"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        var values = lp["token_logprobs"]!.AsArray();
        var tops = lp["top_logprobs"]!.AsArray();
        var offsets = lp["text_offset"]!.AsArray().Select(t => t!.GetValue<int>()).ToList();
        var promptTokens = body["usage"]!["prompt_tokens"]!.GetValue<int>();
        var promptEntries = tokens.Count - 3;
        // The BOS the tokenizer adds is not text and is left out; without one, the first token has no log-probability.
        Assert.InRange(promptEntries, promptTokens - 1, promptTokens);
        Assert.Equal("Once upon a time", string.Concat(tokens.Take(promptEntries)));
        Assert.StartsWith("Once upon a time", choice["text"]!.GetValue<string>());
        if (promptEntries == promptTokens) { Assert.Null(values[0]); Assert.Null(tops[0]); }
        for (int i = promptEntries == promptTokens ? 1 : 0; i < tokens.Count; i++)
        {
            Assert.True(values[i]!.GetValue<float>() <= 0);
            Assert.Single(tops[i]!.AsObject());
        }
        Assert.Equal(0, offsets[0]);
        Assert.Equal("Once upon a time".Length, offsets[promptEntries]);
    }

    [Fact]
    public async Task Post_Suffix_Is400NamingSuffix()
    {
        var (status, body) = await PostAsync(Body(""","suffix":"the end." """));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "suffix", "unsupported_parameter");
    }

    [Theory]
    [InlineData(""","logprobs":6""", "logprobs", "invalid_value")]
    [InlineData(""","echo":true""", "echo", "invalid_value", "[5,6]")]
    [InlineData(""","best_of":1,"n":2""", "best_of", "invalid_value")]
    [InlineData(""","best_of":3,"stream":true""", "best_of", "invalid_value")]
    [InlineData(""","presence_penalty":2.5""", "presence_penalty", "invalid_value")]
    [InlineData(""","logit_bias":{"abc":1}""", "logit_bias", "invalid_value")]
    [InlineData(""","frobnicate":true""", "frobnicate", "unknown_parameter")]
    [InlineData(""","stream_options":{"include_usage":true}""", "stream_options", "invalid_value")]
    public async Task Post_BadField_Is400NamingIt(string extra, string param, string code, string prompt = "\"Once upon a time\"")
    {
        var (status, body) = await PostAsync(Body(extra, prompt));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, param, code);
    }

    [Fact]
    public async Task Post_MissingOrEmptyPrompt_Is400()
    {
        var (missing, body) = await PostAsync($$"""{"model":"{{GatewayHost.Model}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        AssertError(body, "prompt", "missing_required_parameter");
        var (empty, body2) = await PostAsync(Body("", "[]"));
        Assert.Equal(HttpStatusCode.BadRequest, empty);
        AssertError(body2, "prompt", "empty_array");
        var (mixed, body3) = await PostAsync(Body("", "[\"a\", 5]"));
        Assert.Equal(HttpStatusCode.BadRequest, mixed);
        AssertError(body3, "prompt", "invalid_json");
    }

    [Fact]
    public async Task Post_Logprobs_LegacyShapeOnePerToken()
    {
        var (status, body) = await PostAsync(Body(""","max_tokens":6,"temperature":0,"ignore_eos":true,"logprobs":2"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var choice = body["choices"]![0]!;
        var lp = choice["logprobs"]!;
        var tokens = lp["tokens"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        var values = lp["token_logprobs"]!.AsArray().Select(t => t!.GetValue<float>()).ToList();
        var tops = lp["top_logprobs"]!.AsArray();
        var offsets = lp["text_offset"]!.AsArray().Select(t => t!.GetValue<int>()).ToList();
        Assert.Equal(6, tokens.Count);
        Assert.Equal(6, values.Count);
        Assert.Equal(6, tops.Count);
        Assert.All(values, v => Assert.True(v <= 0));
        for (int i = 0; i < 6; i++)
        {
            var top = tops[i]!.AsObject();
            Assert.InRange(top.Count, 1, 2);
            // Greedy: the chosen token is the most likely one, so its log-probability is the largest alternative's.
            Assert.Equal(top.Max(kv => kv.Value!.GetValue<float>()), values[i], 4);
            if (i > 0) Assert.Equal(offsets[i - 1] + tokens[i - 1].Length, offsets[i]);
        }
        var text = choice["text"]!.GetValue<string>();
        if (!string.Concat(tokens).Contains('\uFFFD')) Assert.Equal(text, string.Concat(tokens));
    }

    [Fact]
    public async Task Post_LogitBias100_EveryTokenIsTheBiasedOne()
    {
        var (status, body) = await PostAsync(Body(""","max_tokens":5,"temperature":1,"seed":4,"ignore_eos":true,"logit_bias":{"42":100},"logprobs":0"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var tokens = body["choices"]![0]!["logprobs"]!["tokens"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        Assert.Equal(5, tokens.Count);
        Assert.Single(tokens.Distinct());
    }

    [Fact]
    public async Task Post_BestOf_ReturnsNChoicesAndCountsEveryCandidate()
    {
        var (status, body) = await PostAsync(Body(""","max_tokens":4,"temperature":1,"seed":7,"ignore_eos":true,"best_of":3"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Null(choice["logprobs"]);
        Assert.Equal(12, body["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Post_Stream_SameTextAsNonStreamedWithUsageAndDone()
    {
        var (_, plain) = await PostAsync(Body(""","max_tokens":8,"temperature":0,"ignore_eos":true"""));
        var (events, done) = await StreamAsync(Http, "/v1/completions",
            Body(""","max_tokens":8,"temperature":0,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true},"logprobs":1"""));
        Assert.True(done);
        Assert.All(events, e => Assert.Equal("text_completion", e["object"]!.GetValue<string>()));
        var choiceEvents = events.Where(e => e["choices"]!.AsArray().Count > 0).ToList();
        var text = string.Concat(choiceEvents.Select(e => e["choices"]![0]!["text"]!.GetValue<string>()));
        Assert.Equal(plain["choices"]![0]!["text"]!.GetValue<string>(), text);
        Assert.Equal("length", choiceEvents.Last()["choices"]![0]!["finish_reason"]!.GetValue<string>());
        var streamedTokens = choiceEvents.Where(e => e["choices"]![0]!["logprobs"] is not null)
            .Sum(e => e["choices"]![0]!["logprobs"]!["tokens"]!.AsArray().Count);
        Assert.Equal(8, streamedTokens);
        var usage = events.Last()["usage"]!;
        Assert.Equal(8, usage["completion_tokens"]!.GetValue<int>());
    }
}
