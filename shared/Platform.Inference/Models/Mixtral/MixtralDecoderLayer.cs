using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Mixtral;

/// <summary>
/// MixtralDecoderLayer: LlamaAttention (MixtralAttention is the same module) and the sparse block, named
/// <c>block_sparse_moe</c> in per-expert checkpoints and <c>mlp</c> in the stacked layout (transformers 5 renamed
/// it when it stacked the experts); the other field is null.
/// </summary>
public sealed class MixtralDecoderLayer : DecoderLayer
{
    public readonly MixtralSparseMoeBlock? block_sparse_moe;
    public readonly MixtralSparseMoeBlock? mlp;

    public MixtralDecoderLayer(MixtralConfig config, int layerIndex) : base(nameof(MixtralDecoderLayer), config, new LlamaAttention(config, layerIndex))
    {
        if (config.Layout == ExpertLayout.Fused) mlp = new MixtralSparseMoeBlock(config);
        else block_sparse_moe = new MixtralSparseMoeBlock(config);
        RegisterComponents();
    }

    /// <summary>The sparse block under whichever name the checkpoint uses.</summary>
    public MixtralSparseMoeBlock Moe => block_sparse_moe ?? mlp!;

    protected override Tensor FeedForward(Tensor x) => Moe.Forward(x);
    internal override void FeedForwardRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r) => Moe.DecodeRows(x, output, r);
    private protected override void FuseFeedForward() => Moe.Fuse();
    private protected override bool FeedForwardFused => Moe.IsFused;
}
