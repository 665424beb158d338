using Platform.Inference.Models.Llama;

namespace Platform.Inference.Models.Phi3;

/// <summary>Phi3DecoderLayer: LlamaDecoderLayer's pre-norm blocks (input_layernorm, post_attention_layernorm, RMSNorm)
/// with <see cref="Phi3Attention"/> and <see cref="Phi3MLP"/>. The residual dropouts are identity at inference.</summary>
public sealed class Phi3DecoderLayer(Phi3Config config, int layerIndex)
    : LlamaDecoderLayer(nameof(Phi3DecoderLayer), config, new Phi3Attention(config, layerIndex), new Phi3MLP(config));
