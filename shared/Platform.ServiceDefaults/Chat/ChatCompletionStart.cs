using Platform.Contracts.Chat;

namespace Platform.ServiceDefaults.Chat;

/// <summary>What a caller of <see cref="ChatCompletionClient"/> asks for; the client adds the request id and stream address.
/// A text completion leaves <see cref="Messages"/> empty and sets <see cref="Prompt"/> or <see cref="PromptTokens"/>.</summary>
public sealed record ChatCompletionStart(
    string Model,
    IReadOnlyList<ChatTurn> Messages,
    int? MaxTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    string? Prompt = null,
    IReadOnlyList<int>? PromptTokens = null,
    int? Logprobs = null,
    bool PromptLogprobs = false,
    ResponseFormat? ResponseFormat = null,
    ToolUse? Tools = null);
