namespace Platform.Inference.Quantization;

/// <summary>How linear weights are stored for inference. The numbers are ggml's (ggml.h, enum ggml_type) where
/// the type is one of ggml's, so a GGUF tensor type maps directly.</summary>
public enum QuantType
{
    /// <summary>float32 (no quantization).</summary>
    None = 0,
    /// <summary>llama.cpp's Q4_0: 4-bit values with one fp16 scale per 32 (4.5 bits per weight).</summary>
    Q4_0 = 2,
    /// <summary>llama.cpp's Q8_0: 8-bit values with one fp16 scale per 32 (8.5 bits per weight).</summary>
    Q8_0 = 8,
}

/// <summary>Parses the configuration value (<c>Engine:Quantization</c>: none, q8_0, q4_0).</summary>
public static class QuantTypes
{
    public static QuantType Parse(string? value) => (value ?? "none").Trim().ToLowerInvariant() switch
    {
        "" or "none" or "f32" or "float32" => QuantType.None,
        "q8_0" => QuantType.Q8_0,
        "q4_0" => QuantType.Q4_0,
        _ => throw new ArgumentException($"quantization '{value}' is not supported (none, q8_0, q4_0)"),
    };

    public static string Name(QuantType type) => type switch
    {
        QuantType.None => "none",
        QuantType.Q8_0 => "q8_0",
        QuantType.Q4_0 => "q4_0",
        _ => type.ToString(),
    };
}
