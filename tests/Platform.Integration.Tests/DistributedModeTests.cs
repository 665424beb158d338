using System.ClientModel;
using System.Text.RegularExpressions;
using OpenAI;
using OpenAI.Chat;

namespace Platform.Integration.Tests;

/// <summary>Gateway and TextLlm workers as separate processes on RabbitMQ, driven with the official OpenAI .NET SDK.</summary>
public class DistributedModeTests(DistributedPlatformFixture platform) : IClassFixture<DistributedPlatformFixture>
{
    private static readonly string[] Prompts = ["Tell me a long story about the sea.", "Describe the park.", "Count the apples.", "Hello!"];

    private ChatClient Client(string model) => new(model, new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(platform.Gateway.Address, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    private void Require()
    {
        RabbitMqBroker.Require();
        Assert.True(platform.Started, "The distributed platform did not start:\n" + platform.Logs());
    }

    /// <summary>A prompt whose greedy completion runs to max tokens (a random model may otherwise stop early on its end token).</summary>
    private async Task<string> LongRunningPromptAsync(string model, int maxTokens)
    {
        foreach (var prompt in Prompts)
        {
            ChatCompletion c = await Client(model).CompleteChatAsync([new UserChatMessage(prompt)],
                new ChatCompletionOptions { MaxOutputTokenCount = maxTokens, Temperature = 0 });
            if (c.FinishReason == ChatFinishReason.Length) return prompt;
        }
        throw new InvalidOperationException("No test prompt runs to max_tokens with this model.");
    }

    [SkippableFact]
    public async Task CompleteChat_JsonSchemaThroughRabbitMq_IsConstrainedAndUnsupportedIs400()
    {
        Require();
        const string schema = """{"type":"object","properties":{"n":{"type":"integer"},"ok":{"type":"boolean"}},"required":["n","ok"],"additionalProperties":false}""";
        ChatCompletion completion = await Client(platform.Model).CompleteChatAsync([new UserChatMessage("JSON please")], new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("n", BinaryData.FromString(schema), jsonSchemaIsStrict: true),
            // Bounded by the grammar: 9 gaps of at most 20 whitespace characters, an integer of at most 16, the rest fixed.
            MaxOutputTokenCount = 300,
        });
        Assert.True(completion.FinishReason == ChatFinishReason.Stop, completion.Content[0].Text);
        using var doc = System.Text.Json.JsonDocument.Parse(completion.Content[0].Text);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, doc.RootElement.GetProperty("n").ValueKind);
        Assert.Equal(2, doc.RootElement.EnumerateObject().Count());
        // The worker compiles the schema: its rejection crosses the broker and becomes a 400 naming the keyword.
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => Client(platform.Model).CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("s", BinaryData.FromString("""{"type":"string","format":"email"}""")),
        }));
        Assert.Equal(400, ex.Status);
        using var error = System.Text.Json.JsonDocument.Parse(ex.GetRawResponse()!.Content.ToString());
        Assert.Contains("'format'", error.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("response_format.json_schema.schema", error.RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [SkippableFact]
    public async Task CompleteChat_ThroughRabbitMq_ReturnsTextUsageAndWorker()
    {
        Require();
        ChatCompletion completion = await Client(platform.Model).CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello")],
            new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0 });
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 5);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Contains(completion.SystemFingerprint, new[] { "textllm-a", "textllm-b" });
    }

    [SkippableFact]
    public async Task CompleteChatStreaming_ChunksArriveBeforeTheEnd()
    {
        Require();
        // ignore_eos fixes the length: 1,500 tokens keep the worker busy far longer than one metrics read takes, so
        // the first chunk is seen while the request still runs however fast the engine gets.
        const int maxTokens = 1500;
        var running = new Regex($"platform_num_requests_running\\{{model_name=\"{platform.Model}\"\\}} ([0-9]+)");
        // Warm the metrics connection first, so that the read at the first chunk does not wait on a TCP handshake.
        await platform.Gateway.Http.GetStringAsync("/metrics");
        var json = $$"""{"model":"{{platform.Model}}","messages":[{"role":"user","content":"Tell me a long story."}],"max_tokens":{{maxTokens}},"temperature":0,"ignore_eos":true,"stream":true}""";
        using var streaming = new HttpClient { BaseAddress = platform.Gateway.Address, Timeout = TimeSpan.FromSeconds(120) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        using var response = await streaming.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode) Assert.Fail(await response.Content.ReadAsStringAsync());
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var contentChunks = 0;
        string? metricsAtFirstChunk = null, finish = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]") continue;
            var choice = System.Text.Json.Nodes.JsonNode.Parse(line["data: ".Length..])!["choices"]!.AsArray().FirstOrDefault();
            if (choice is null) continue;
            if (choice["delta"]?["content"]?.GetValue<string>() is { Length: > 0 } && contentChunks++ == 0)
                metricsAtFirstChunk = await platform.Gateway.Http.GetStringAsync("/metrics");
            finish ??= choice["finish_reason"]?.GetValue<string>();
        }
        Assert.Equal("length", finish);
        Assert.True(contentChunks > 1, $"expected several content chunks, got {contentChunks}");
        // When the client held its first chunk, the gateway still counted the request as running: it was not over.
        Assert.NotNull(metricsAtFirstChunk);
        var atFirstChunk = running.Match(metricsAtFirstChunk);
        Assert.True(atFirstChunk.Success, metricsAtFirstChunk);
        Assert.InRange(int.Parse(atFirstChunk.Groups[1].Value), 1, int.MaxValue);
    }

    [SkippableFact]
    public async Task TwoConcurrentRequests_AreServedByTwoWorkerProcesses()
    {
        Require();
        var prompt = await LongRunningPromptAsync(platform.Model, 200);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 200, Temperature = 0 };
        // Each worker has one engine slot (ConcurrentMessageLimit 1), so the broker must hand the second to the other.
        var results = await Task.WhenAll(
            Client(platform.Model).CompleteChatAsync([new UserChatMessage(prompt)], options),
            Client(platform.Model).CompleteChatAsync([new UserChatMessage(prompt)], options));
        var workers = results.Select(r => r.Value.SystemFingerprint).Order().ToArray();
        Assert.Equal(["textllm-a", "textllm-b"], workers);
        // Same greedy request, two processes, same weights: same text.
        Assert.Equal(results[0].Value.Content[0].Text, results[1].Value.Content[0].Text);
    }

    [SkippableFact]
    public async Task WorkerKilledMidStream_ClientGetsAnErrorInsteadOfHanging()
    {
        Require();
        var prompt = await LongRunningPromptAsync(platform.VictimModel, 400);
        using var noHang = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var received = 0;
        var error = await Record.ExceptionAsync(async () =>
        {
            await foreach (var update in Client(platform.VictimModel).CompleteChatStreamingAsync([new UserChatMessage(prompt)],
                               new ChatCompletionOptions { MaxOutputTokenCount = 400, Temperature = 0 }, noHang.Token))
            {
                if (update.ContentUpdate.Count > 0 && received++ == 0)
                    platform.Victim.Kill();
            }
        });
        Assert.True(received > 0, "the stream produced no content before the kill");
        Assert.False(noHang.IsCancellationRequested, "the client hung after its worker was killed");
        Assert.NotNull(error);
        Assert.True(platform.Victim.HasExited);
    }

    [SkippableFact]
    public async Task Models_ListsWhatTheWorkersAnnounced()
    {
        Require();
        var models = new OpenAIClient(new ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(platform.Gateway.Address, "/v1") }).GetOpenAIModelClient();
        var list = (await models.GetModelsAsync()).Value.Select(m => m.Id).ToList();
        Assert.Contains(platform.Model, list);
    }
    [SkippableFact]
    public async Task Completions_ThroughRabbitMq_PromptListWithLogprobs()
    {
        Require();
        var json = $$"""{"model":"{{platform.Model}}","prompt":["The sea","Hello"],"max_tokens":4,"temperature":0,"ignore_eos":true,"logprobs":1}""";
        using var response = await platform.Gateway.Http.PostAsync("/v1/completions", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var body = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());
        var choices = body["choices"]!.AsArray();
        Assert.Equal(2, choices.Count);
        Assert.All(choices, c => Assert.Equal(4, c!["logprobs"]!["tokens"]!.AsArray().Count));
        Assert.Equal(8, body["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.Contains(body["system_fingerprint"]!.GetValue<string>(), new[] { "textllm-a", "textllm-b" });
    }

    [SkippableFact]
    public async Task Embeddings_ThroughRabbitMq_SdkBase64MatchesFloats()
    {
        Require();
        var client = new OpenAI.Embeddings.EmbeddingClient(platform.Model, new ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(platform.Gateway.Address, "/v1") });
        var sdk = (await client.GenerateEmbeddingsAsync(["a red circle", "a blue square"])).Value;
        Assert.Equal(2, sdk.Count);
        var json = $$"""{"model":"{{platform.Model}}","input":"a red circle"}""";
        using var response = await platform.Gateway.Http.PostAsync("/v1/embeddings", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var body = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());
        var floats = body["data"]![0]!["embedding"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray();
        Assert.Equal(floats, sdk[0].ToFloats().ToArray());
    }

    [SkippableFact]
    public async Task ChatLogprobs_ThroughRabbitMq_Streamed()
    {
        Require();
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 2 };
        var tokens = new List<ChatTokenLogProbabilityDetails>();
        await foreach (var update in Client(platform.Model).CompleteChatStreamingAsync([new UserChatMessage("Hello")], options))
            tokens.AddRange(update.ContentTokenLogProbabilities);
        Assert.NotEmpty(tokens);
        Assert.All(tokens, t => Assert.Equal(2, t.TopLogProbabilities.Count));
    }
}
