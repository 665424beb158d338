using Platform.Contracts.Chat;

namespace Gateway.Validation;

/// <summary>A request that passed validation, mapped to what the bus carries.</summary>
public sealed record ValidatedChatRequest(
    string Model,
    IReadOnlyList<ChatTurn> Messages,
    IReadOnlyList<DecodedImage> Images,
    int? MaxTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    int N,
    bool Stream,
    bool IncludeUsage,
    int? Logprobs = null,
    ResponseFormat? ResponseFormat = null,
    ToolUse? Tools = null);

/// <summary>An input image decoded from a data URL: where it stood (message, part) and its bytes.</summary>
public sealed record DecodedImage(int MessageIndex, int PartIndex, string MediaType, byte[] Bytes);
