using System.Text.Json.Serialization;
using Gateway.OpenAi;

namespace Gateway.Judge;

/// <summary>POST /v1/judge/ratings: rate <see cref="Response"/> as an answer to <see cref="Messages"/>.</summary>
public sealed record JudgeRatingRequestDto
{
    public string? Model { get; init; }
    public List<ChatMessageDto>? Messages { get; init; }
    /// <summary>The answer to rate: a string or content parts (text / image_url), as a message's content.</summary>
    [JsonConverter(typeof(MessageContentConverter))]
    public MessageContent? Response { get; init; }
    /// <summary>Fields this record does not name; answered with a 400 naming the field.</summary>
    [JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? UnknownFields { get; set; }
}

/// <summary>POST /v1/judge/comparisons: which of two <see cref="Responses"/> answers <see cref="Messages"/> better.</summary>
public sealed record JudgeComparisonRequestDto
{
    public string? Model { get; init; }
    public List<ChatMessageDto>? Messages { get; init; }
    [JsonConverter(typeof(MessageContentListConverter))]
    public List<MessageContent?>? Responses { get; init; }
    /// <summary>"ordered" (Auto-J as published; the default) or "set" (order-independent by construction).</summary>
    public string? Mode { get; init; }
    /// <summary>Fields this record does not name; answered with a 400 naming the field.</summary>
    [JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? UnknownFields { get; set; }
}

public sealed record JudgeRatingDto(string Id, string Object, long Created, string Model, int? Rating, string Critique, string Raw,
    UsageDto Usage, string? SystemFingerprint)
{
    /// <summary>Written as null when the judge gave no readable rating.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)] public int? Rating { get; init; } = Rating;
}

public sealed record JudgeComparisonDto(string Id, string Object, long Created, string Model, string Mode, object? Winner, string Critique,
    string Raw, UsageDto Usage, string? SystemFingerprint)
{
    /// <summary>0 or 1 (index into the request's responses), "tie", or null when no verdict was readable.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)] public object? Winner { get; init; } = Winner;
}
