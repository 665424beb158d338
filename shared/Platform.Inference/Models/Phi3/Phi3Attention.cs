using Platform.Inference.Models.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Phi3;

/// <summary>
/// Phi3Attention (modeling_phi3.py): LlamaAttention whose checkpoint stores q, k and v as one projection,
/// <c>qkv_proj</c> [(heads + 2 kv_heads) x head_dim, hidden], rows q then k then v, no biases; o_proj as Llama's.
/// That is the layout the engine fuses Llama's three projections into, so the fused path reads it as is.
/// </summary>
public sealed class Phi3Attention : LlamaAttention
{
    public readonly Linear qkv_proj;

    public Phi3Attention(Phi3Config config, int layerIndex) : this(config, layerIndex, CreateQkv(config))
    {
    }

    private Phi3Attention(Phi3Config config, int layerIndex, Linear qkv) : base(config, layerIndex, qkv)
    {
        qkv_proj = qkv;
        register_module(nameof(qkv_proj), qkv_proj);
    }

    private static Linear CreateQkv(Phi3Config c) =>
        nn.Linear(c.HiddenSize, (c.NumAttentionHeads + 2 * c.KeyValueHeads) * c.HeadDimension, hasBias: false);
}
