using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Multimodal.Models;

/// <summary>
/// Sizes of the multimodal heads around the language model (multimodal_config.json beside the LM's files).
/// The decoder's conditioning is <see cref="ConditionSlots"/> x <see cref="ConditionDim"/>: one row per object
/// (the world has at most two), where GILL's Stable Diffusion takes 77x768 text-encoder states. A row per object
/// lets the decoder paint each object as its own layer, which is what makes unseen colour/shape pairs compose.
/// </summary>
public sealed record MultimodalConfig
{
    [JsonPropertyName("image_size")][Range(8, 256)] public int ImageSize { get; init; } = World.WorldSpec.ImageSize;
    [JsonPropertyName("condition_slots")][Range(1, 16)] public int ConditionSlots { get; init; } = 2;
    [JsonPropertyName("condition_dim")][Range(4, 1024)] public int ConditionDim { get; init; } = 64;
    /// <summary>Visual tokens spliced into the prompt per input image: one per attribute (size, colour, shape, position) per object slot.</summary>
    [JsonPropertyName("visual_tokens")][Range(1, 64)] public int VisualTokens { get; init; } = 8;
    /// <summary>The language model's hidden size (visual tokens and [IMG] states live there).</summary>
    [JsonPropertyName("lm_hidden_size")][Range(8, 8192)] public int LmHiddenSize { get; init; } = 128;
    /// <summary>GILL's r: number of [IMG] tokens.</summary>
    [JsonPropertyName("image_tokens")][Range(1, 32)] public int ImageTokens { get; init; } = 8;
    [JsonPropertyName("mapper_dim")][Range(8, 2048)] public int MapperDim { get; init; } = 128;
    [JsonPropertyName("mapper_layers")][Range(1, 8)] public int MapperLayers { get; init; } = 1;
    [JsonPropertyName("mapper_heads")][Range(1, 32)] public int MapperHeads { get; init; } = 4;
    /// <summary>Text tokens of the answer right before the [IMG] tokens (at most this many, back to the answer's
    /// start or the previous picture's [IMG] tokens) that the mapper reads beside the [IMG] tokens: the words that
    /// restate the picture. 0 reads the [IMG] tokens only, as GILL does.</summary>
    [JsonPropertyName("mapper_context")][Range(0, 256)] public int MapperContext { get; init; }
    [JsonPropertyName("retrieval_dim")][Range(8, 4096)] public int RetrievalDim { get; init; } = 256;
    /// <summary>Only the input side (visual encoder + projection, <see cref="VisualInput"/>): the model reads images
    /// and draws none, so the folder has no decoder, GILL heads or gallery.</summary>
    [JsonPropertyName("input_only")] public bool InputOnly { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static MultimodalConfig Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: multimodal config not found", path);
        MultimodalConfig? config;
        try { config = JsonSerializer.Deserialize<MultimodalConfig>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON: {e.Message}", e); }
        if (config is null) throw new InvalidDataException($"{path}: empty config");
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(config, new ValidationContext(config), results, validateAllProperties: true))
            throw new InvalidDataException($"{path}: {string.Join("; ", results.Select(r => r.ErrorMessage))}");
        return config;
    }
}
