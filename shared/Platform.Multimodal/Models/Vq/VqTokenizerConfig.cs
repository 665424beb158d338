using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Multimodal.Models.Vq;

/// <summary>
/// vq_config.json of the VQ image tokenizer (<see cref="VqTokenizer"/>): a picture of
/// <see cref="ImageSize"/>² pixels becomes a <see cref="GridSize"/>² grid of codes from a codebook of
/// <see cref="CodebookSize"/> entries of <see cref="CodeDim"/> dimensions.
/// </summary>
public sealed record VqTokenizerConfig
{
    [JsonPropertyName("image_size")][Range(8, 256)] public int ImageSize { get; init; } = World.WorldSpec.ImageSize;
    /// <summary>Codes per side: the encoder halves the side log2(image_size / grid_size) times.</summary>
    [JsonPropertyName("grid_size")][Range(1, 64)] public int GridSize { get; init; } = 8;
    [JsonPropertyName("codebook_size")][Range(2, 65536)] public int CodebookSize { get; init; } = 256;
    [JsonPropertyName("code_dim")][Range(1, 1024)] public int CodeDim { get; init; } = 32;
    /// <summary>Channels of the widest convolution (the first stride-2 layer has half).</summary>
    [JsonPropertyName("hidden_channels")][Range(4, 1024)] public int HiddenChannels { get; init; } = 64;
    /// <summary>Beta of the commitment loss (van den Oord et al. 2017, eq. 3).</summary>
    [JsonPropertyName("commitment_cost")][Range(0.0, 10.0)] public double CommitmentCost { get; init; } = 0.25;
    /// <summary>Decay of the exponential moving averages that update the codebook (the paper's appendix A.1).</summary>
    [JsonPropertyName("ema_decay")][Range(0.0, 1.0)] public double EmaDecay { get; init; } = 0.99;

    /// <summary>Stride-2 convolutions of the encoder (and transposed ones of the decoder).</summary>
    [JsonIgnore] public int Downsamplings => (int)Math.Round(Math.Log2(ImageSize / (double)GridSize));

    [JsonIgnore] public int CodesPerImage => GridSize * GridSize;

    public void Validate()
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
            throw new InvalidDataException(string.Join("; ", results.Select(r => r.ErrorMessage)));
        if (ImageSize % GridSize != 0 || (1 << Downsamplings) != ImageSize / GridSize || Downsamplings < 1)
            throw new InvalidDataException($"image_size / grid_size must be a power of two >= 2, got {ImageSize} / {GridSize}");
    }

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static VqTokenizerConfig Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: VQ tokenizer config not found", path);
        VqTokenizerConfig? config;
        try { config = JsonSerializer.Deserialize<VqTokenizerConfig>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON: {e.Message}", e); }
        if (config is null) throw new InvalidDataException($"{path}: empty config");
        try { config.Validate(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        return config;
    }
}
