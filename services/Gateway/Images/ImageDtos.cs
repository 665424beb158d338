using Gateway.OpenAi;

namespace Gateway.Images;

/// <summary>One part of an interleaved answer (choices[].message.parts, delta.parts): {"type":"text","text":...} or
/// {"type":"image_url","image_url":{"url":...},"source":"generate"|"retrieve"}, the shape of OpenAI's input content parts
/// (plus how the picture was made).</summary>
public sealed record OutputPartDto(string Type, string? Text = null, ImageUrlDto? ImageUrl = null, string? Source = null)
{
    public static OutputPartDto ForText(string text) => new("text", text);
    /// <param name="source">How the picture was made: "generate" (decoded from the model's [IMG] states) or "retrieve" (a gallery image).</param>
    public static OutputPartDto ForImage(string url, string? source = null) => new("image_url", ImageUrl: new ImageUrlDto { Url = url }, Source: source);
}

/// <summary>The body of POST /v1/images/generations (OpenAI images API; quality, style and user are accepted and ignored).</summary>
public sealed record ImageGenerationRequestDto
{
    public string? Prompt { get; init; }
    public string? Model { get; init; }
    public int? N { get; init; }
    public string? ResponseFormat { get; init; }
    public string? Size { get; init; }
    public string? Quality { get; init; }
    public string? Style { get; init; }
    public string? User { get; init; }
    /// <summary>Best-of-n with a judge (an extension): generate this many pictures and return the one <see cref="Judge"/> rates highest.</summary>
    public int? BestOf { get; init; }
    /// <summary>The judge model for <see cref="BestOf"/> (it must accept images).</summary>
    public string? Judge { get; init; }
    /// <summary>Sampling temperature of the drawing instruction's answer (an extension): 0 (greedy) by default, 1 with <see cref="BestOf"/>.</summary>
    public float? Temperature { get; init; }
    /// <summary>Sampling seed (an extension, as chat completions' <c>seed</c>): picture i of n (or candidate i of
    /// <see cref="BestOf"/>) samples with seed + i, so a request with a seed draws the same pictures again.</summary>
    public long? Seed { get; init; }
    /// <summary>Fields this record does not name; answered with a 400 naming the field (<see cref="Validation.RequestFields"/>).</summary>
    [System.Text.Json.Serialization.JsonExtensionData]
    public Dictionary<string, System.Text.Json.JsonElement>? UnknownFields { get; set; }
}

public sealed record ImageGenerationResponseDto(long Created, IReadOnlyList<GeneratedImageDto> Data,
    IReadOnlyList<Gateway.Judge.ImageBestOfCandidateDto>? BestOfCandidates = null);

public sealed record GeneratedImageDto(string? Url = null, string? B64Json = null, string? RevisedPrompt = null);
