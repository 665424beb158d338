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
    /// <summary>Torch intra-op threads of this engine (set on its scheduler thread, so engines in one process keep their
    /// own); 0 = the count torch had when the process's first engine started (its default unless the host set one).</summary>
    [Range(0, 1024)] public int Threads { get; set; }
    /// <summary>Prompt tokens prefilled per scheduler step, so running sequences keep decoding while a long prompt joins.</summary>
    [Range(1, 1_048_576)] public int PrefillChunkTokens { get; set; } = 512;
    /// <summary>Bound of the paged KV cache in MiB; 0 = <see cref="DefaultKvCacheMB"/> or what every slot at the full
    /// context needs, whichever is less. The pool starts small and grows to this bound as tokens are cached.</summary>
    [Range(0, 16_777_216)] public int KvCacheMB { get; set; }
    /// <summary>Bound of the paged KV cache in blocks (instead of <see cref="KvCacheMB"/>; set one of the two).</summary>
    [Range(0, int.MaxValue - 1)] public int KvCacheBlocks { get; set; }
    /// <summary>Tokens per KV cache block (a power of two, 8 or more).</summary>
    [Range(8, 1024)] public int KvCacheBlockTokens { get; set; } = 16;
    /// <summary>Keep full blocks of plain prompts after their request ends and reuse them for later prompts that
    /// start with the same tokens (automatic prefix caching).</summary>
    public bool PrefixCaching { get; set; } = true;
    public const int DefaultKvCacheMB = 1024;
    /// <summary>Overrides the chat template chosen from tokenizer_config.json ("chatml", "llama3", "mistral", "demo").</summary>
    public string? ChatTemplate { get; set; }
    /// <summary>How the linear weights of float checkpoints run: "none" (float32), "q8_0" or "q4_0" (llama.cpp's
    /// block formats, quantized at load). Weights a GGUF file already stores quantized run as stored.</summary>
    [RegularExpression("^(none|q8_0|q4_0)$", ErrorMessage = "Quantization must be none, q8_0 or q4_0")]
    public string Quantization { get; set; } = "none";
}
