using System.Text.Json.Serialization;

namespace Gateway.OpenAi;

/// <summary>The body of POST /v1/chat/completions as OpenAI defines it (the fields this platform reads).</summary>
public sealed record ChatCompletionRequestDto
{
    public string? Model { get; init; }
    public List<ChatMessageDto>? Messages { get; init; }
    public int? MaxTokens { get; init; }
    public int? MaxCompletionTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public long? Seed { get; init; }
    [JsonConverter(typeof(StopSequencesConverter))]
    public List<string>? Stop { get; init; }
    /// <summary>vLLM's and llama.cpp's extension: generate past the end-of-sequence token (up to max_tokens or a stop).</summary>
    public bool? IgnoreEos { get; init; }
    public int? N { get; init; }
    /// <summary>Best-of-n with a judge (an extension): sample this many candidates and return the one <see cref="Judge"/> rates highest.</summary>
    public int? BestOf { get; init; }
    /// <summary>The judge model for <see cref="BestOf"/>.</summary>
    public string? Judge { get; init; }
    public bool? Stream { get; init; }
    public StreamOptionsDto? StreamOptions { get; init; }
    /// <summary>Return each output token's log-probability (choices[].logprobs.content).</summary>
    public bool? Logprobs { get; init; }
    /// <summary>0..20 most likely alternatives per token; requires <see cref="Logprobs"/>.</summary>
    public int? TopLogprobs { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    /// <summary>Token id (as a string, OpenAI's shape) to a bias from -100 to 100.</summary>
    public Dictionary<string, float>? LogitBias { get; init; }
    /// <summary>The end user's id (OpenAI's abuse-monitoring field): accepted, not stored or used.</summary>
    public string? User { get; init; }
    /// <summary>Fields this record does not name; <see cref="Validation.RequestFields"/> answers 400 for them.</summary>
    [JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? UnknownFields { get; set; }
    /// <summary>Constrained output: {"type": "text" | "json_object" | "json_schema", "json_schema": {...}}.</summary>
    public ResponseFormatDto? ResponseFormat { get; init; }
    public List<ToolDto>? Tools { get; init; }
    /// <summary>"none", "auto", "required" or {"type": "function", "function": {"name": ...}}.</summary>
    public System.Text.Json.JsonElement? ToolChoice { get; init; }
    public bool? ParallelToolCalls { get; init; }
}

public sealed record StreamOptionsDto
{
    public bool? IncludeUsage { get; init; }
    [JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? UnknownFields { get; set; }
}

public sealed record ChatMessageDto
{
    public string? Role { get; init; }
    [JsonConverter(typeof(MessageContentConverter))]
    public MessageContent? Content { get; init; }
    public string? Name { get; init; }
    /// <summary>An assistant turn's function calls.</summary>
    public List<ToolCallDto>? ToolCalls { get; init; }
    /// <summary>A "tool" turn: the call it answers.</summary>
    public string? ToolCallId { get; init; }
    [JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? UnknownFields { get; set; }
}

/// <summary>OpenAI's content union: a plain string or an array of typed parts.</summary>
public sealed record MessageContent(string? Text, IReadOnlyList<ContentPartDto>? Parts);

public sealed record ContentPartDto
{
    public string? Type { get; init; }
    public string? Text { get; init; }
    /// <summary>
    /// Set-based prompting (an extension): consecutive text parts with the same <c>set</c> name are one set, whose
    /// members (one per part) the model reads without order: same positions, masked from each other.
    /// </summary>
    public string? Set { get; init; }
    public ImageUrlDto? ImageUrl { get; init; }
}

public sealed record ImageUrlDto
{
    public string? Url { get; init; }
    public string? Detail { get; init; }
}
