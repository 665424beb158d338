using System.ClientModel;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace Gateway.Tests.Endpoints;

/// <summary>
/// Embeddings, chat logprobs and the OpenAI sampling fields through the official OpenAI .NET SDK (2.15.0), which
/// asks for base64 embeddings by default. (The SDK has no public text-completions operation in this version:
/// <see cref="CompletionsEndpointTests"/> drives /v1/completions over plain HTTP.)
/// </summary>
public class OpenAiSdkApiBreadthTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private OpenAIClientOptions Options => new() { Endpoint = new Uri(fixture.Host.Address, "/v1") };
    private ChatClient Chat => new(GatewayHost.Model, new ApiKeyCredential("unused"), Options);
    private EmbeddingClient Embeddings => new(GatewayHost.Model, new ApiKeyCredential("unused"), Options);

    [Fact]
    public async Task GenerateEmbedding_Base64FromTheSdk_EqualsTheFloatResponse()
    {
        OpenAIEmbedding embedding = await Embeddings.GenerateEmbeddingAsync("a red circle");
        var sdk = embedding.ToFloats().ToArray();
        var (_, body) = await ApiTestHttp.PostAsync(fixture.Host.Http, "/v1/embeddings",
            $$"""{"model":"{{GatewayHost.Model}}","input":"a red circle","encoding_format":"float"}""");
        var floats = body["data"]![0]!["embedding"]!.AsArray().Select(x => x!.GetValue<float>()).ToArray();
        Assert.Equal(floats, sdk);
        Assert.Equal(1.0, Math.Sqrt(sdk.Sum(x => (double)x * x)), 4);
    }

    [Fact]
    public async Task GenerateEmbeddings_ListWithDimensionsAndUser_ReturnsShortVectorsAndUsage()
    {
        OpenAIEmbeddingCollection result = await Embeddings.GenerateEmbeddingsAsync(["a red circle", "a blue square"],
            new EmbeddingGenerationOptions { Dimensions = 16, EndUserId = "user-1" });
        Assert.Equal(2, result.Count);
        Assert.All(result, e => Assert.Equal(16, e.ToFloats().Length));
        Assert.Equal([0, 1], result.Select(e => e.Index));
        Assert.True(result.Usage.InputTokenCount > 0);
        Assert.Equal(result.Usage.InputTokenCount, result.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task GenerateEmbedding_TooManyDimensions_ThrowsWith400()
    {
        var ex = await Assert.ThrowsAsync<ClientResultException>(() =>
            Embeddings.GenerateEmbeddingAsync("x", new EmbeddingGenerationOptions { Dimensions = 100_000 }));
        Assert.Equal(400, ex.Status);
        Assert.Contains("dimensions", ex.Message);
    }

    [Fact]
    public async Task CompleteChat_Logprobs_OnePerOutputTokenAndGreedyIsTopOne()
    {
        ChatCompletion completion = await Chat.CompleteChatAsync([new UserChatMessage("Tell me about the sea")],
            new ChatCompletionOptions { MaxOutputTokenCount = 6, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 });
        var tokens = completion.ContentTokenLogProbabilities;
        Assert.Equal(completion.Usage.OutputTokenCount - (completion.FinishReason == ChatFinishReason.Stop ? 1 : 0), tokens.Count);
        Assert.NotEmpty(tokens);
        foreach (var t in tokens)
        {
            Assert.True(t.LogProbability <= 0);
            Assert.Equal(3, t.TopLogProbabilities.Count);
            Assert.Equal(t.Token, t.TopLogProbabilities[0].Token);
            Assert.Equal(t.LogProbability, t.TopLogProbabilities[0].LogProbability, 4);
        }
    }

    [Fact]
    public async Task CompleteChatStreaming_Logprobs_SameAsNonStreamed()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 6, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 2 };
        ChatCompletion whole = await Chat.CompleteChatAsync([new UserChatMessage("Describe the park")], options);
        var streamed = new List<ChatTokenLogProbabilityDetails>();
        await foreach (var update in Chat.CompleteChatStreamingAsync([new UserChatMessage("Describe the park")], options))
            streamed.AddRange(update.ContentTokenLogProbabilities);
        Assert.Equal(whole.ContentTokenLogProbabilities.Select(t => t.Token), streamed.Select(t => t.Token));
        Assert.Equal(whole.ContentTokenLogProbabilities.Select(t => t.LogProbability), streamed.Select(t => t.LogProbability));
    }

    [Fact]
    public async Task CompleteChat_PenaltiesBiasAndUser_AreAcceptedAndBiasForcesTheToken()
    {
        var options = new ChatCompletionOptions
        {
            MaxOutputTokenCount = 4, Temperature = 1, PresencePenalty = 0.5f, FrequencyPenalty = 0.5f, EndUserId = "user-1",
            IncludeLogProbabilities = true,
        };
        options.LogitBiases[42] = 100;
        ChatCompletion completion = await Chat.CompleteChatAsync([new UserChatMessage("Hello")], options);
        Assert.NotEmpty(completion.ContentTokenLogProbabilities);
        Assert.Single(completion.ContentTokenLogProbabilities.Select(t => t.Token).Distinct());
    }
}
