using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Inference.Models.Moe;

/// <summary>
/// image_adapter_config.json beside a MoE model's HF files: the image vocabulary the adapter appends
/// (<see cref="ImageVocabulary"/>: begin, end, one token per code, from <see cref="BaseVocabSize"/> on) and the
/// partial LoRA's rank and alpha (<see cref="ExpertLoRA"/>). The weights are image_adapter.safetensors, the state dict
/// of <see cref="ImageTokenAdapter"/> (new_embeddings, new_lm_head, experts_lora.N.gate_up_A|gate_up_B|down_A|down_B).
/// </summary>
public sealed record ImageTokenAdapterConfig
{
    public const string FileName = "image_adapter_config.json";
    public const string WeightsFileName = "image_adapter.safetensors";

    /// <summary>The base model's vocabulary size: the first new token's id.</summary>
    [JsonPropertyName("base_vocab_size")][Range(1, 10_000_000)] public int BaseVocabSize { get; init; }
    [JsonPropertyName("codebook_size")][Range(2, 65536)] public int CodebookSize { get; init; }
    /// <summary>Codes per side of a picture: a picture is grid_size² codes in raster order.</summary>
    [JsonPropertyName("grid_size")][Range(1, 64)] public int GridSize { get; init; }
    [JsonPropertyName("lora_rank")][Range(1, 4096)] public int LoraRank { get; init; } = 8;
    [JsonPropertyName("lora_alpha")][Range(0.0, 1e6)] public double LoraAlpha { get; init; } = 16;
    [JsonPropertyName("begin_token")][Required] public string BeginToken { get; init; } = ImageVocabulary.BeginToken;
    [JsonPropertyName("end_token")][Required] public string EndToken { get; init; } = ImageVocabulary.EndToken;

    [JsonIgnore] public ImageVocabulary Vocabulary => new(BaseVocabSize, CodebookSize, GridSize * GridSize);

    public void Validate()
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
            throw new InvalidDataException(string.Join("; ", results.Select(r => r.ErrorMessage)));
    }

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>The folder's adapter config, or null when the folder has none (a text-only model).</summary>
    public static ImageTokenAdapterConfig? TryRead(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        ImageTokenAdapterConfig? config;
        try { config = JsonSerializer.Deserialize<ImageTokenAdapterConfig>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON: {e.Message}", e); }
        if (config is null) throw new InvalidDataException($"{path}: empty config");
        try { config.Validate(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        return config;
    }
}
