using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>LlamaDecoderLayer: pre-norm attention and MLP blocks with residuals.</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    public readonly LlamaAttention self_attn;
    public readonly LlamaMLP mlp;
    public readonly LlamaRMSNorm input_layernorm;
    public readonly LlamaRMSNorm post_attention_layernorm;

    public LlamaDecoderLayer(LlamaConfig config, int layerIndex) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(config, layerIndex);
        mlp = new LlamaMLP(config);
        input_layernorm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        if (!is_grad_enabled())
        {
            // Inference: residual adds in place (no autograd graph needs x).
            var h = self_attn.Forward(input_layernorm.forward(x), ctx).add_(x);
            return h.add_(mlp.forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
        }
        var hidden = x + self_attn.Forward(input_layernorm.forward(x), ctx);
        return (hidden + mlp.forward(post_attention_layernorm.forward(hidden))).MoveToOuterDisposeScope();
    }

    /// <summary>Span decode: updates the rows of <see cref="RowDecode.Hidden"/> in place (both residual adds).</summary>
    internal void DecodeRows(RowDecode r, int hidden)
    {
        var x = r.Used(r.Hidden, hidden);
        var normed = r.Used(r.Normed, hidden);
        var projected = r.Used(r.Projected, hidden);
        input_layernorm.ForwardRows(x, normed);
        self_attn.DecodeRows(normed, projected, r);
        TensorPrimitives.Add(x, projected, x);
        post_attention_layernorm.ForwardRows(x, normed);
        mlp.DecodeRows(normed, projected, r);
        TensorPrimitives.Add(x, projected, x);
    }
}
