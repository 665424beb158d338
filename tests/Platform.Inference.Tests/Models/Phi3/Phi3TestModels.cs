using Platform.Inference.Models;
using Platform.Inference.Models.Phi3;

namespace Platform.Inference.Tests.Models.Phi3;

/// <summary>Tiny Phi3ForCausalLM configs (hidden 64, 2 layers, GQA 4/2, head_dim 16).</summary>
internal static class Phi3TestModels
{
    /// <summary>Phi-3-mini's layout at test size: full rotary, untied lm_head.</summary>
    public static Phi3Config Tiny(double partialRotaryFactor = 1.0, bool tied = false)
    {
        var t = TinyModelFactory.TinyConfig();
        return new Phi3Config
        {
            VocabSize = t.VocabSize, HiddenSize = t.HiddenSize, IntermediateSize = t.IntermediateSize, NumHiddenLayers = t.NumHiddenLayers,
            NumAttentionHeads = t.NumAttentionHeads, NumKeyValueHeads = t.NumKeyValueHeads, MaxPositionEmbeddings = t.MaxPositionEmbeddings,
            RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = tied, PartialRotaryFactor = partialRotaryFactor, SlidingWindow = 256,
        };
    }
}
