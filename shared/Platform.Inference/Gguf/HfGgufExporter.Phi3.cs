using Platform.Inference.Models.Phi3;
using static TorchSharp.torch;

namespace Platform.Inference.Gguf;

/// <summary>
/// Phi3ForCausalLM to llama.cpp's "phi3" architecture, as convert_hf_to_gguf.py's Phi3MiniModel writes it: the fused
/// checkpoint tensors keep their layout (qkv_proj -> attn_qkv, gate_up_proj -> ffn_up, which llama.cpp's phi3 graph
/// splits itself, gate half first), no q/k permutation (phi3 rotates with NEOX, i.e. rotate-half), and
/// rope.dimension_count = int(partial_rotary_factor x hidden) / heads.
/// </summary>
public static partial class HfGgufExporter
{
    private static void AddPhi3Metadata(GgufWriter w, string arch, Phi3Config config)
    {
        // llama.cpp's phi3 tensors: attn_output is [n_embd, n_embd], so heads x head_dim must be the hidden size.
        if (config.NumAttentionHeads * config.HeadDimension != config.HiddenSize)
            throw new NotSupportedException($"llama.cpp's phi3 architecture needs num_attention_heads x head_dim = hidden_size ({config.NumAttentionHeads} x {config.HeadDimension} != {config.HiddenSize}).");
        int llamaCppRotary = (int)(config.PartialRotaryFactor * config.HiddenSize) / config.NumAttentionHeads;
        if (llamaCppRotary != config.RotaryDimension)
            throw new NotSupportedException($"partial_rotary_factor {config.PartialRotaryFactor} gives {config.RotaryDimension} rotary dims per head here but {llamaCppRotary} in llama.cpp's phi3 conversion.");
        w.AddUInt32($"{arch}.rope.scaling.original_context_length", (uint)(config.OriginalMaxPositionEmbeddings ?? config.MaxPositionEmbeddings));
        // Written as the converter does (0 = none); llama.cpp's phi3 graph currently attends to the full context anyway.
        w.AddUInt32($"{arch}.attention.sliding_window", (uint)Math.Max(0, config.SlidingWindow ?? 0));
    }

    private static IEnumerable<(string Name, Tensor Tensor)> MapPhi3Layer(Phi3Config config, int layer, Func<string, long[], Tensor> take)
    {
        long h = config.HiddenSize, ff = config.IntermediateSize, d = config.HeadDimension;
        long qkv = (config.NumAttentionHeads + 2L * config.KeyValueHeads) * d;
        string p = $"model.layers.{layer}.", b = $"blk.{layer}.";
        yield return (b + "attn_norm.weight", take(p + "input_layernorm.weight", [h]));
        yield return (b + "attn_qkv.weight", take(p + "self_attn.qkv_proj.weight", [qkv, h]));
        yield return (b + "attn_output.weight", take(p + "self_attn.o_proj.weight", [h, config.NumAttentionHeads * d]));
        yield return (b + "ffn_norm.weight", take(p + "post_attention_layernorm.weight", [h]));
        yield return (b + "ffn_up.weight", take(p + "mlp.gate_up_proj.weight", [2 * ff, h]));
        yield return (b + "ffn_down.weight", take(p + "mlp.down_proj.weight", [h, ff]));
    }
}
