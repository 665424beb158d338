using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>LlamaDecoderLayer: pre-norm attention and MLP blocks with residuals (also Qwen2 and Mistral).</summary>
public class LlamaDecoderLayer : DecoderLayer
{
    public readonly LlamaMLP mlp;

    public LlamaDecoderLayer(LlamaConfig config, int layerIndex) : this(nameof(LlamaDecoderLayer), config, new LlamaAttention(config, layerIndex))
    {
    }

    /// <summary>For families that change only the attention (Qwen3DecoderLayer).</summary>
    protected LlamaDecoderLayer(string name, LlamaConfig config, LlamaAttention attention) : this(name, config, attention, new LlamaMLP(config))
    {
    }

    /// <summary>For families that store the same blocks in other modules (Phi3DecoderLayer's fused projections).</summary>
    protected LlamaDecoderLayer(string name, LlamaConfig config, LlamaAttention attention, LlamaMLP feedForward) : base(name, config, attention)
    {
        mlp = feedForward;
        RegisterComponents();
    }

    protected override Tensor FeedForward(Tensor x) => mlp.forward(x);
    internal override void FeedForwardRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r) => mlp.DecodeRows(x, output, r);
    private protected override void FuseFeedForward() => mlp.Fuse();
    private protected override bool FeedForwardFused => mlp.IsFused;
}
