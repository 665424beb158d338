using Platform.Contracts.Chat;

namespace Platform.ServiceDefaults.Chat;

/// <summary>What a caller of <see cref="ChatCompletionClient"/> asks for; the client adds the request id and stream address.</summary>
public sealed record ChatCompletionStart(
    string Model,
    IReadOnlyList<ChatTurn> Messages,
    int? MaxTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    ResponseFormat? ResponseFormat = null,
    ToolUse? Tools = null);
