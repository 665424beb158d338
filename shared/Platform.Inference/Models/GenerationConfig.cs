using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Inference.Models;

/// <summary>Mirrors generation_config.json (the fields the engine uses as defaults).</summary>
public sealed record GenerationConfig
{
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenId { get; init; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }
    [JsonPropertyName("do_sample")] public bool? DoSample { get; init; }
    [JsonPropertyName("temperature")] public float? Temperature { get; init; }
    [JsonPropertyName("top_k")] public int? TopK { get; init; }
    [JsonPropertyName("top_p")] public float? TopP { get; init; }
    [JsonPropertyName("repetition_penalty")] public float? RepetitionPenalty { get; init; }
    [JsonPropertyName("max_new_tokens")] public int? MaxNewTokens { get; init; }

    [JsonIgnore] public IReadOnlyList<int> EosTokenIds => LlamaConfig.ReadIds(EosTokenId);

    public static GenerationConfig Parse(string json) =>
        JsonSerializer.Deserialize<GenerationConfig>(json, LlamaConfig.JsonOptions) ?? new GenerationConfig();

    public string ToJson() => JsonSerializer.Serialize(this, LlamaConfig.JsonOptions);
}
