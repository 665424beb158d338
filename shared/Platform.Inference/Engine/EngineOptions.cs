using System.ComponentModel.DataAnnotations;

namespace Platform.Inference.Engine;

/// <summary>Per-model engine settings (bound from configuration: Models:{name}:Engine).</summary>
public sealed class EngineOptions
{
    /// <summary>"cpu", "cuda", "cuda:1" ... passed to torch.device.</summary>
    [Required] public string Device { get; set; } = "cpu";
    [Range(1, 1024)] public int MaxConcurrentSequences { get; set; } = 16;
    [Range(0, 1_000_000)] public int MaxWaitingRequests { get; set; } = 256;
    /// <summary>0 = the model's max_position_embeddings.</summary>
    [Range(0, 1_048_576)] public int MaxContextTokens { get; set; }
    /// <summary>0 = leave torch's default.</summary>
    [Range(0, 1024)] public int Threads { get; set; }
    /// <summary>Prompt tokens prefilled per scheduler step, so running sequences keep decoding while a long prompt joins.</summary>
    [Range(1, 1_048_576)] public int PrefillChunkTokens { get; set; } = 512;
    /// <summary>Overrides the chat template chosen from tokenizer_config.json ("chatml", "llama3", "mistral", "demo").</summary>
    public string? ChatTemplate { get; set; }
    /// <summary>How the linear weights of float checkpoints run: "none" (float32), "q8_0" or "q4_0" (llama.cpp's
    /// block formats, quantized at load). Weights a GGUF file already stores quantized run as stored.</summary>
    [RegularExpression("^(none|q8_0|q4_0)$", ErrorMessage = "Quantization must be none, q8_0 or q4_0")]
    public string Quantization { get; set; } = "none";
}
