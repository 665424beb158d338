using Platform.Inference.Models.Moe;

namespace Platform.Inference.Models.Mixtral;

/// <summary>MixtralSparseMoeBlock: router <c>gate</c> and <c>experts</c> (MixtralBlockSparseTop2MLP each, or the
/// stacked layout); top-k weights always renormalised (see <see cref="SparseMoeBlock"/>).</summary>
public sealed class MixtralSparseMoeBlock : SparseMoeBlock
{
    public MixtralSparseMoeBlock(MixtralConfig config)
        : base(nameof(MixtralSparseMoeBlock), config, _ => new MixtralBlockSparseTop2MLP(config.HiddenSize, config.IntermediateSize))
    {
        RegisterComponents();
    }
}
