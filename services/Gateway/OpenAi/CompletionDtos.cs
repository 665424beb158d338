using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.OpenAi;

/// <summary>The body of POST /v1/completions as OpenAI defines it (legacy text completions).</summary>
public sealed record CompletionRequestDto
{
    public string? Model { get; init; }
    public PromptInput? Prompt { get; init; }
    /// <summary>Refused with a 400 when set: the served models have no fill-in-the-middle format.</summary>
    public string? Suffix { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? N { get; init; }
    /// <summary>OpenAI's server-side best-of: this many candidates per prompt, the n with the highest mean token log-probability returned.</summary>
    public int? BestOf { get; init; }
    public bool? Stream { get; init; }
    public StreamOptionsDto? StreamOptions { get; init; }
    /// <summary>0..5: the log-probability of each token and this many most likely alternatives.</summary>
    public int? Logprobs { get; init; }
    /// <summary>Return the prompt before the completion in each choice's text.</summary>
    public bool? Echo { get; init; }
    [JsonConverter(typeof(StopSequencesConverter))]
    public List<string>? Stop { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public Dictionary<string, float>? LogitBias { get; init; }
    public string? User { get; init; }
    public long? Seed { get; init; }
    /// <summary>vLLM's extension, as on chat completions.</summary>
    public bool? IgnoreEos { get; init; }
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? UnknownFields { get; set; }
}

public sealed record CompletionResponseDto(
    string Id, string Object, long Created, string Model, string? SystemFingerprint,
    IReadOnlyList<CompletionChoiceDto> Choices, UsageDto? Usage);

/// <summary><see cref="Logprobs"/> is written as null when not asked for (OpenAI's shape).</summary>
public sealed record CompletionChoiceDto(
    string Text, int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] CompletionLogprobsDto? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

/// <summary>The body of POST /v1/embeddings.</summary>
public sealed record EmbeddingRequestDto
{
    public string? Model { get; init; }
    public PromptInput? Input { get; init; }
    /// <summary>"float" (the default) or "base64" (little-endian float32, OpenAI's encoding).</summary>
    public string? EncodingFormat { get; init; }
    public int? Dimensions { get; init; }
    public string? User { get; init; }
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? UnknownFields { get; set; }
}

/// <summary><see cref="Pooling"/> (an extension) says how the model pooled its hidden states: "last_token" or "mean".</summary>
public sealed record EmbeddingResponseDto(string Object, IReadOnlyList<EmbeddingDto> Data, string Model, EmbeddingUsageDto Usage, string? Pooling = null);

/// <summary><see cref="Embedding"/> is a float array or a base64 string, by encoding_format.</summary>
public sealed record EmbeddingDto(string Object, int Index, object Embedding);

public sealed record EmbeddingUsageDto(int PromptTokens, int TotalTokens);
