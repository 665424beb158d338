using Platform.Inference.Models.Moe;

namespace Platform.Inference.Models.Olmoe;

/// <summary>OlmoeSparseMoeBlock: router <c>gate</c> and <c>experts</c> (OlmoeMLP each, or the stacked layout);
/// top-k weights renormalised when norm_topk_prob (see <see cref="SparseMoeBlock"/>).</summary>
public sealed class OlmoeSparseMoeBlock : SparseMoeBlock
{
    public OlmoeSparseMoeBlock(OlmoeConfig config)
        : base(nameof(OlmoeSparseMoeBlock), config, _ => new MoeMLP(config.HiddenSize, config.IntermediateSize))
    {
        RegisterComponents();
    }
}
