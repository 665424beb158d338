using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>
/// What every decoder layer of the Llama family tree shares (LlamaDecoderLayer, MixtralDecoderLayer,
/// OlmoeDecoderLayer, Qwen2MoeDecoderLayer): pre-norm attention and feed-forward blocks with residuals. The
/// subclass owns the feed-forward module under its checkpoint's field name (mlp, block_sparse_moe) and registers
/// the components once all fields are set.
/// </summary>
public abstract class DecoderLayer : nn.Module
{
    public readonly LlamaAttention self_attn;
    public readonly LlamaRMSNorm input_layernorm;
    public readonly LlamaRMSNorm post_attention_layernorm;

    protected DecoderLayer(string name, LlamaConfig config, LlamaAttention attention) : base(name)
    {
        self_attn = attention;
        input_layernorm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps);
    }

    /// <summary>The feed-forward block on normalised hidden states [B, T, H].</summary>
    protected abstract Tensor FeedForward(Tensor x);
    /// <summary>The same on span rows [rows, H] (needs <see cref="Fuse"/>).</summary>
    internal abstract void FeedForwardRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r);
    private protected abstract void FuseFeedForward();
    private protected abstract bool FeedForwardFused { get; }

    public Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        if (!is_grad_enabled())
        {
            // Inference: residual adds in place (no autograd graph needs x).
            var h = self_attn.Forward(input_layernorm.forward(x), ctx).add_(x);
            return h.add_(FeedForward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
        }
        var hidden = x + self_attn.Forward(input_layernorm.forward(x), ctx);
        return (hidden + FeedForward(post_attention_layernorm.forward(hidden))).MoveToOuterDisposeScope();
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
        FeedForwardRows(normed, projected, r);
        TensorPrimitives.Add(x, projected, x);
    }

    /// <summary>Fuses q/k/v and the feed-forward weights for inference (weights become views: no extra memory).</summary>
    internal void Fuse()
    {
        self_attn.Fuse();
        FuseFeedForward();
    }

    internal bool IsFused => self_attn.IsFused && FeedForwardFused;
}
