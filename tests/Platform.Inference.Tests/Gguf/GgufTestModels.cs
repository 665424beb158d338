using Platform.Inference.Models;

namespace Platform.Inference.Tests.Gguf;

/// <summary>The two architectures the GGUF export is checked on, built by <see cref="TinyModelFactory"/>.</summary>
internal static class GgufTestModels
{
    /// <summary>Llama with grouped-query attention (4 query heads, 2 KV heads) and an untied lm_head.</summary>
    public static LlamaConfig LlamaGqa() => TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false, RopeTheta = 10000 };

    /// <summary>Qwen2 (q/k/v biases, NEOX RoPE in llama.cpp) with tied embeddings.</summary>
    public static LlamaConfig Qwen2Bias() => TinyModelFactory.TinyConfig() with
    {
        Architectures = ["Qwen2ForCausalLM"], ModelType = "qwen2", RopeTheta = 1000000, RmsNormEps = 1e-6, TieWordEmbeddings = true,
    };
}
