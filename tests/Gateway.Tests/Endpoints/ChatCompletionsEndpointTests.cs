using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Endpoints;

namespace Gateway.Tests.Endpoints;

public class ChatCompletionsEndpointTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private HttpClient Http => fixture.Host.Http;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Body(string extra = "", string content = "\"Hello there\"") =>
        $$"""{"model":"{{GatewayHost.Model}}","messages":[{"role":"user","content":{{content}}}]{{extra}}}""";

    private async Task<(HttpStatusCode Status, JsonNode Body, HttpResponseMessage Response)> PostAsync(string json)
    {
        var response = await Http.PostAsync("/v1/chat/completions", Json(json));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!, response);
    }

    private static void AssertError(JsonNode body, string type, string? param, string? code)
    {
        var error = body["error"]!.AsObject();
        Assert.False(string.IsNullOrWhiteSpace(error["message"]!.GetValue<string>()));
        Assert.Equal(type, error["type"]!.GetValue<string>());
        Assert.True(error.ContainsKey("param"));
        Assert.True(error.ContainsKey("code"));
        Assert.Equal(param, error["param"]?.GetValue<string>());
        Assert.Equal(code, error["code"]?.GetValue<string>());
    }

    [Fact]
    public async Task Post_ValidRequest_ReturnsCompletionWithUsageAndWorker()
    {
        var (status, body, response) = await PostAsync(Body(""","max_tokens":8,"temperature":0"""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("chat.completion", body["object"]!.GetValue<string>());
        Assert.StartsWith("chatcmpl-", body["id"]!.GetValue<string>());
        Assert.Equal(GatewayHost.Model, body["model"]!.GetValue<string>());
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal("assistant", choice["message"]!["role"]!.GetValue<string>());
        Assert.NotNull(choice["message"]!["content"]!.GetValue<string>());
        Assert.Contains(choice["finish_reason"]!.GetValue<string>(), new[] { "stop", "length" });
        var usage = body["usage"]!;
        var prompt = usage["prompt_tokens"]!.GetValue<int>();
        var completion = usage["completion_tokens"]!.GetValue<int>();
        Assert.True(prompt > 0);
        Assert.InRange(completion, 1, 8);
        Assert.Equal(prompt + completion, usage["total_tokens"]!.GetValue<int>());
        var worker = Assert.Single(response.Headers.GetValues(ChatCompletionsEndpoint.WorkerHeader));
        Assert.StartsWith("textllm-", worker);
        Assert.Equal(worker, body["system_fingerprint"]!.GetValue<string>());
    }

    [Fact]
    public async Task Post_SameSeed_ReturnsSameText()
    {
        var request = Body(""","max_tokens":12,"temperature":1,"seed":7""");
        var (_, a, _) = await PostAsync(request);
        var (_, b, _) = await PostAsync(request);
        Assert.Equal(a["choices"]![0]!["message"]!["content"]!.GetValue<string>(), b["choices"]![0]!["message"]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task Post_NTwo_ReturnsTwoIndexedChoicesAndSummedUsage()
    {
        var (status, body, _) = await PostAsync(Body(""","max_tokens":4,"n":2,"seed":1"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var choices = body["choices"]!.AsArray();
        Assert.Equal([0, 1], choices.Select(c => c!["index"]!.GetValue<int>()));
        var completion = body["usage"]!["completion_tokens"]!.GetValue<int>();
        Assert.InRange(completion, 2, 8);
    }

    [Fact]
    public async Task Post_MaxTokensOne_StopsWithLengthAfterOneToken()
    {
        // A random model may emit its end token at once, so allow "stop" with zero text, but never more than 1 token.
        var (_, body, _) = await PostAsync(Body(""","max_completion_tokens":1"""));
        Assert.Equal(1, body["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.Contains(body["choices"]![0]!["finish_reason"]!.GetValue<string>(), new[] { "length", "stop" });
    }

    [Fact]
    public async Task Post_IgnoreEos_GeneratesToMaxTokensWhereTheModelWouldStop()
    {
        // Find a seed whose sampled completion ends on the model's end token well before max_tokens (the tiny random
        // model samples it within a few dozen tokens), then ask again with ignore_eos: same seed, full length.
        const int max = 120;
        long seed = -1;
        for (long candidate = 1; candidate <= 40 && seed < 0; candidate++)
        {
            var (_, plain, _) = await PostAsync(Body($$""","max_tokens":{{max}},"seed":{{candidate}}"""));
            if (plain["choices"]![0]!["finish_reason"]!.GetValue<string>() == "stop") seed = candidate;
        }
        Assert.True(seed > 0, "no seed in 1..40 stopped on the end token");

        var (status, body, _) = await PostAsync(Body($$""","max_tokens":{{max}},"seed":{{seed}},"ignore_eos":true"""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("length", body["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(max, body["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Post_Stream_SendsRoleFirstThenDeltasUsageAndDone()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = Json(Body(""","max_tokens":10,"stream":true,"stream_options":{"include_usage":true}""")),
        };
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<string>();
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            while (await reader.ReadLineAsync() is { } line)
                if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line["data: ".Length..]);
        }
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c["object"]!.GetValue<string>()));
        Assert.Single(chunks.Select(c => c["id"]!.GetValue<string>()).Distinct());
        Assert.Equal("assistant", chunks[0]["choices"]![0]!["delta"]!["role"]!.GetValue<string>());
        var finish = chunks.Where(c => c["choices"]!.AsArray().Count > 0 && c["choices"]![0]!["finish_reason"] is not null).ToList();
        Assert.Single(finish);
        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk["choices"]!.AsArray());
        var text = string.Concat(chunks.Where(c => c["choices"]!.AsArray().Count > 0)
            .Select(c => c["choices"]![0]!["delta"]!["content"]?.GetValue<string>() ?? ""));
        var completion = usageChunk["usage"]!["completion_tokens"]!.GetValue<int>();
        Assert.InRange(completion, 1, 10);

        // The same request without streaming gives the same text for a fixed seed: streaming loses nothing.
        var (_, plain, _) = await PostAsync(Body(""","max_tokens":10,"seed":3"""));
        using var seeded = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json(Body(""","max_tokens":10,"seed":3,"stream":true""")) };
        using var seededResponse = await Http.SendAsync(seeded);
        var streamed = string.Concat((await seededResponse.Content.ReadAsStringAsync()).Split('\n')
            .Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
            .Select(l => JsonNode.Parse(l[6..])!["choices"]![0]!["delta"]!["content"]?.GetValue<string>() ?? ""));
        Assert.Equal(plain["choices"]![0]!["message"]!["content"]!.GetValue<string>(), streamed);
        Assert.NotNull(text);
    }

    [Fact]
    public async Task Post_MalformedJson_Returns400InvalidJson()
    {
        var (status, body, _) = await PostAsync("""{"model": "tiny", "messages": [""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", body["error"]!["param"]?.GetValue<string>(), "invalid_json");
    }

    [Fact]
    public async Task Post_WrongJsonType_Returns400NamingThePath()
    {
        var (status, body, _) = await PostAsync(Body(""","temperature":"hot" """));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "temperature", "invalid_json");
    }

    [Fact]
    public async Task Post_UnknownModel_Returns404ModelNotFound()
    {
        var (status, body, _) = await PostAsync("""{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertError(body, "invalid_request_error", "model", "model_not_found");
        Assert.Contains("no-such-model", body["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Post_EmptyMessages_Returns400()
    {
        var (status, body, _) = await PostAsync($$"""{"model":"{{GatewayHost.Model}}","messages":[]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "messages", "empty_array");
    }

    [Fact]
    public async Task Post_MaxTokensBeyondContext_Returns400ContextLengthExceeded()
    {
        var (status, body, _) = await PostAsync(Body(""","max_tokens":100000"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "max_tokens", "context_length_exceeded");
    }

    [Fact]
    public async Task Post_PromptPlusMaxTokensBeyondContext_Returns400ContextLengthExceeded()
    {
        // The prompt fits alone but not with the requested completion: only the worker's tokenizer can tell.
        var (status, body, _) = await PostAsync(Body(""","max_tokens":500""", "\"" + string.Concat(Enumerable.Repeat("apples and oranges ", 20)) + "\""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "messages", "context_length_exceeded");
        Assert.Contains("maximum context length is 512 tokens", body["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Post_PromptLongerThanContext_Returns400ContextLengthExceeded()
    {
        var (status, body, _) = await PostAsync(Body("", "\"" + string.Concat(Enumerable.Repeat("The quick brown fox 12 apples. ", 200)) + "\""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "messages", "context_length_exceeded");
    }

    [Fact]
    public async Task Post_BodyOverLimit_Returns413()
    {
        var (status, body, _) = await PostAsync(Body("", "\"" + new string('a', 70_000) + "\""));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        AssertError(body, "invalid_request_error", null, "request_too_large");
    }

    [Fact]
    public async Task Post_ChunkedBodyOverLimit_Returns413()
    {
        // No Content-Length: the limit must hold while reading.
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(Body("", "\"" + new string('a', 70_000) + "\""))));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        AssertError(JsonNode.Parse(await response.Content.ReadAsStringAsync())!, "invalid_request_error", null, "request_too_large");
    }

    [Fact]
    public async Task Post_ImageForTextOnlyModel_Returns400()
    {
        var part = $$$"""[{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(TestImages.Png(16))}}}"}}]""";
        var (status, body, _) = await PostAsync(Body("", part));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "messages", "image_input_not_supported");
    }

    [Fact]
    public async Task Post_BadImage_Returns400InvalidImage()
    {
        var (status, body, _) = await PostAsync(Body("", """[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "messages[0].content[0].image_url.url", "invalid_image");
    }

    [Fact]
    public async Task Post_BadParameter_Returns400WithParam()
    {
        var (status, body, _) = await PostAsync(Body(""","top_p":1.5"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "top_p", "invalid_value");
    }
}
