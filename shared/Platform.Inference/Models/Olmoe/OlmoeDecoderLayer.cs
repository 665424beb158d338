using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Olmoe;

/// <summary>OlmoeDecoderLayer: <see cref="OlmoeAttention"/> and the sparse block <c>mlp</c>.</summary>
public sealed class OlmoeDecoderLayer : DecoderLayer
{
    public readonly OlmoeSparseMoeBlock mlp;

    public OlmoeDecoderLayer(OlmoeConfig config, int layerIndex) : base(nameof(OlmoeDecoderLayer), config, new OlmoeAttention(config, layerIndex))
    {
        mlp = new OlmoeSparseMoeBlock(config);
        RegisterComponents();
    }

    protected override Tensor FeedForward(Tensor x) => mlp.Forward(x);
    internal override void FeedForwardRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r) => mlp.DecodeRows(x, output, r);
    private protected override void FuseFeedForward() => mlp.Fuse();
    private protected override bool FeedForwardFused => mlp.IsFused;
}
