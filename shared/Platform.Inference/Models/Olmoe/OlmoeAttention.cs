using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Olmoe;

/// <summary>
/// OlmoeAttention (modeling_olmoe.py): LlamaAttention with RMSNorm over the whole q projection (q_norm, width
/// heads x head_dim) and the whole k projection (k_norm, kv_heads x head_dim) before the rotary, and, with
/// clip_qkv, q, k and v clamped to [-clip_qkv, clip_qkv] after the norms.
/// </summary>
public sealed class OlmoeAttention : LlamaAttention
{
    public readonly LlamaRMSNorm q_norm;
    public readonly LlamaRMSNorm k_norm;
    private readonly int _q, _k;
    private readonly float? _clip;

    public OlmoeAttention(OlmoeConfig config, int layerIndex) : base(config, layerIndex)
    {
        _q = config.NumAttentionHeads * config.HeadDimension;
        _k = config.KeyValueHeads * config.HeadDimension;
        _clip = config.ClipQkv is { } c ? (float)c : null;
        q_norm = new LlamaRMSNorm(_q, config.RmsNormEps);
        k_norm = new LlamaRMSNorm(_k, config.RmsNormEps);
        // The base constructor registered q/k/v/o_proj while these were still null.
        register_module(nameof(q_norm), q_norm);
        register_module(nameof(k_norm), k_norm);
    }

    private protected override Tensor AdjustProjections(Tensor qkv)
    {
        var (q, k, v) = AdjustProjections(qkv.narrow(-1, 0, _q), qkv.narrow(-1, _q, _k), qkv.narrow(-1, _q + _k, _k));
        return cat([q, k, v], -1);
    }

    private protected override (Tensor Q, Tensor K, Tensor V) AdjustProjections(Tensor q, Tensor k, Tensor v)
    {
        q = q_norm.forward(q);
        k = k_norm.forward(k);
        if (_clip is { } c) (q, k, v) = (q.clamp(-c, c), k.clamp(-c, c), v.clamp(-c, c));
        return (q, k, v);
    }

    private protected override void AdjustProjectionRows(Span<float> qkv, int rows)
    {
        int width = _q + 2 * _k;
        for (int row = 0; row < rows; row++)
        {
            var r = qkv.Slice(row * width, width);
            q_norm.ForwardRows(r[.._q], r[.._q]);
            k_norm.ForwardRows(r.Slice(_q, _k), r.Slice(_q, _k));
            if (_clip is { } c)
            {
                System.Numerics.Tensors.TensorPrimitives.Min(r, c, r);
                System.Numerics.Tensors.TensorPrimitives.Max(r, -c, r);
            }
        }
    }
}
