using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Qwen3;

/// <summary>
/// Qwen3Attention (modeling_qwen3.py): LlamaAttention with an RMSNorm over each head of q (q_norm) and of k
/// (k_norm), weights of width head_dim shared by the heads, applied after the projections and before the rotary.
/// (OLMoE's q/k norms span the whole projection instead; see OlmoeAttention.)
/// </summary>
public sealed class Qwen3Attention : LlamaAttention
{
    public readonly LlamaRMSNorm q_norm;
    public readonly LlamaRMSNorm k_norm;
    private readonly int _heads, _kvHeads, _headDim;

    public Qwen3Attention(Qwen3Config config, int layerIndex) : base(config, layerIndex)
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.KeyValueHeads;
        _headDim = config.HeadDimension;
        q_norm = new LlamaRMSNorm(_headDim, config.RmsNormEps);
        k_norm = new LlamaRMSNorm(_headDim, config.RmsNormEps);
        // The base constructor registered q/k/v/o_proj while these were still null.
        register_module(nameof(q_norm), q_norm);
        register_module(nameof(k_norm), k_norm);
    }

    private protected override Tensor AdjustProjections(Tensor qkv)
    {
        long[] shape = qkv.shape;
        var heads = qkv.view([.. shape[..^1], _heads + 2 * _kvHeads, _headDim]);
        var q = q_norm.forward(heads.narrow(-2, 0, _heads));
        var k = k_norm.forward(heads.narrow(-2, _heads, _kvHeads));
        return cat([q, k, heads.narrow(-2, _heads + _kvHeads, _kvHeads)], -2).view(shape);
    }

    private protected override (Tensor Q, Tensor K, Tensor V) AdjustProjections(Tensor q, Tensor k, Tensor v) =>
        (PerHead(q_norm, q), PerHead(k_norm, k), v);

    private Tensor PerHead(LlamaRMSNorm norm, Tensor x)
    {
        long[] shape = x.shape;
        return norm.forward(x.view([.. shape[..^1], shape[^1] / _headDim, _headDim])).view(shape);
    }

    private protected override void AdjustProjectionRows(Span<float> qkv, int rows)
    {
        int q = _heads * _headDim, k = _kvHeads * _headDim, width = q + 2 * k;
        for (int row = 0; row < rows; row++)
        {
            var r = qkv.Slice(row * width, width);
            // ForwardRows walks the span head by head (its weight is one head wide).
            q_norm.ForwardRows(r[..q], r[..q]);
            k_norm.ForwardRows(r.Slice(q, k), r.Slice(q, k));
        }
    }
}
