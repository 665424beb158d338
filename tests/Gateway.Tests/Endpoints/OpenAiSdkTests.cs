using System.ClientModel;
using OpenAI;
using OpenAI.Chat;

namespace Gateway.Tests.Endpoints;

/// <summary>The official OpenAI .NET SDK against the all-in-one gateway.</summary>
public class OpenAiSdkTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private ChatClient Client => new(GatewayHost.Model, new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(fixture.Host.Address, "/v1") });

    [Fact]
    public async Task CompleteChat_ReturnsTextAndUsage()
    {
        ChatCompletion completion = await Client.CompleteChatAsync(
            [new SystemChatMessage("You are brief."), new UserChatMessage("Say hello")],
            new ChatCompletionOptions { MaxOutputTokenCount = 6, Temperature = 0 });
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 6);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.StartsWith("textllm-", completion.SystemFingerprint);
    }

    [Fact]
    public async Task CompleteChatStreaming_YieldsUpdatesAndFinishReason()
    {
        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in Client.CompleteChatStreamingAsync([new UserChatMessage("Stream please")],
                           new ChatCompletionOptions { MaxOutputTokenCount = 8 }))
            updates.Add(update);
        Assert.NotEmpty(updates);
        Assert.Single(updates, u => u.FinishReason is not null);
    }

    [Fact]
    public async Task CompleteChat_UnknownModel_ThrowsWith404()
    {
        var client = new ChatClient("missing", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(fixture.Host.Address, "/v1") });
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, ex.Status);
        Assert.Contains("model_not_found", ex.Message);
    }
}
