using Platform.Inference.Models.Llama;

namespace Platform.Inference.Models.Qwen3;

/// <summary>Qwen3DecoderLayer: LlamaDecoderLayer's blocks with <see cref="Qwen3Attention"/>.</summary>
public sealed class Qwen3DecoderLayer(Qwen3Config config, int layerIndex)
    : LlamaDecoderLayer(nameof(Qwen3DecoderLayer), config, new Qwen3Attention(config, layerIndex));
