namespace Gateway.OpenAi;

public sealed record ChatCompletionResponseDto(
    string Id, string Object, long Created, string Model, string? SystemFingerprint,
    IReadOnlyList<ChatChoiceDto> Choices, UsageDto Usage, IReadOnlyList<Gateway.Judge.BestOfCandidateDto>? BestOfCandidates = null);

public sealed record ChatChoiceDto(int Index, AssistantMessageDto Message, string? FinishReason, object? Logprobs = null);

/// <summary><see cref="Parts"/>: the answer as interleaved text and image parts (multimodal models; an extension of OpenAI's shape).
/// <see cref="ToolCalls"/>: the function calls the model made (then <see cref="Content"/> is null when it wrote no text).</summary>
public sealed record AssistantMessageDto(string Role, string? Content, IReadOnlyList<Gateway.Images.OutputPartDto>? Parts = null,
    IReadOnlyList<ToolCallResponseDto>? ToolCalls = null);

public sealed record ChatCompletionChunkDto(
    string Id, string Object, long Created, string Model, string? SystemFingerprint,
    IReadOnlyList<ChunkChoiceDto> Choices, UsageDto? Usage = null);

public sealed record ChunkChoiceDto(int Index, DeltaDto Delta, string? FinishReason, object? Logprobs = null);

public sealed record DeltaDto(string? Role = null, string? Content = null, IReadOnlyList<Gateway.Images.OutputPartDto>? Parts = null,
    IReadOnlyList<ToolCallDeltaDto>? ToolCalls = null);

/// <summary>OpenAI's usage object; <see cref="PromptTokensDetails"/> is set by chat and completions.</summary>
public sealed record UsageDto(int PromptTokens, int CompletionTokens, int TotalTokens, PromptTokensDetailsDto? PromptTokensDetails = null);

/// <summary>usage.prompt_tokens_details: <see cref="CachedTokens"/> of the prompt tokens were served from the worker's
/// prefix cache (their KV blocks reused, not prefilled again).</summary>
public sealed record PromptTokensDetailsDto(int CachedTokens);

public sealed record ModelListDto(string Object, IReadOnlyList<ModelDto> Data);

/// <summary><see cref="Capabilities"/> (an extension): ["judge"] for a judge model, left out for chat models.</summary>
public sealed record ModelDto(string Id, string Object, long Created, string OwnedBy, IReadOnlyList<string>? Capabilities = null);

public sealed record ErrorBodyDto(ErrorDto Error);

/// <summary>OpenAI's error object; <see cref="Param"/> and <see cref="Code"/> are written even when null.</summary>
public sealed record ErrorDto(
    string Message,
    string Type,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)] string? Param,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)] string? Code);
