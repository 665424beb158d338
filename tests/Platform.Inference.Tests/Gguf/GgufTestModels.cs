using Platform.Inference.Models;
using Platform.Inference.Models.Qwen3;

namespace Platform.Inference.Tests.Gguf;

/// <summary>The architectures the GGUF export is checked on, built by <see cref="TinyModelFactory"/>.</summary>
internal static class GgufTestModels
{
    /// <summary>Llama with grouped-query attention (4 query heads, 2 KV heads) and an untied lm_head.</summary>
    public static LlamaConfig LlamaGqa() => TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false, RopeTheta = 10000 };

    /// <summary>Qwen2 (q/k/v biases, NEOX RoPE in llama.cpp) with tied embeddings.</summary>
    public static LlamaConfig Qwen2Bias() => TinyModelFactory.TinyConfig() with
    {
        Architectures = ["Qwen2ForCausalLM"], ModelType = "qwen2", RopeTheta = 1000000, RmsNormEps = 1e-6, TieWordEmbeddings = true,
    };

    /// <summary>
    /// Qwen3 (per-head q/k RMSNorm, no biases, NEOX RoPE) with head_dim 32 x 4 heads wider than hidden 64, as in
    /// Qwen3-0.6B (128 x 16 heads over hidden 1024), so the export must state attention.key_length.
    /// </summary>
    public static LlamaConfig Qwen3QkNorm()
    {
        var tiny = TinyModelFactory.TinyConfig();
        return new Qwen3Config
        {
            VocabSize = tiny.VocabSize, HiddenSize = tiny.HiddenSize, IntermediateSize = tiny.IntermediateSize, NumHiddenLayers = tiny.NumHiddenLayers,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 32, MaxPositionEmbeddings = tiny.MaxPositionEmbeddings,
            RmsNormEps = 1e-6, RopeTheta = 1000000, TieWordEmbeddings = false,
        };
    }

    public static LlamaConfig ForKind(string kind) => kind switch
    {
        "llama-gqa" => LlamaGqa(),
        "qwen2-bias" => Qwen2Bias(),
        "qwen3-qknorm" => Qwen3QkNorm(),
        _ => throw new ArgumentException($"unknown test architecture {kind}"),
    };
}
