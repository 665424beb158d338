using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Qwen2Moe;

/// <summary>
/// Qwen2MoeDecoderLayer: LlamaAttention with q/k/v biases (Qwen2MoeAttention) and <c>mlp</c>, the sparse block on
/// sparse layers (<see cref="Qwen2MoeConfig.IsSparseLayer"/>) and a dense Qwen2MoeMLP at intermediate_size
/// (<see cref="LlamaMLP"/>, the same module) on the others.
/// </summary>
public sealed class Qwen2MoeDecoderLayer : DecoderLayer
{
    public readonly nn.Module mlp;

    public Qwen2MoeDecoderLayer(Qwen2MoeConfig config, int layerIndex) : base(nameof(Qwen2MoeDecoderLayer), config, new LlamaAttention(config, layerIndex))
    {
        mlp = config.IsSparseLayer(layerIndex) ? new Qwen2MoeSparseMoeBlock(config) : new LlamaMLP(config with { MlpBias = false });
        RegisterComponents();
    }

    /// <summary>The sparse block, or null on a dense layer.</summary>
    public Qwen2MoeSparseMoeBlock? Moe => mlp as Qwen2MoeSparseMoeBlock;

    protected override Tensor FeedForward(Tensor x) => mlp is Qwen2MoeSparseMoeBlock s ? s.Forward(x) : ((LlamaMLP)mlp).forward(x);

    internal override void FeedForwardRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r)
    {
        if (mlp is Qwen2MoeSparseMoeBlock s) s.DecodeRows(x, output, r);
        else ((LlamaMLP)mlp).DecodeRows(x, output, r);
    }

    private protected override void FuseFeedForward()
    {
        if (mlp is Qwen2MoeSparseMoeBlock s) s.Fuse();
        else ((LlamaMLP)mlp).Fuse();
    }

    private protected override bool FeedForwardFused => mlp is Qwen2MoeSparseMoeBlock s ? s.IsFused : ((LlamaMLP)mlp).IsFused;
}
