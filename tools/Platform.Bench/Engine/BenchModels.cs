using Platform.Inference.Gguf;
using Platform.Inference.Models;
using Platform.Inference.Models.Mixtral;

namespace Platform.Bench.Engine;

/// <summary>The model shapes the engine benchmark runs (random weights, written by TinyModelFactory).</summary>
internal static class BenchModels
{
    public static readonly IReadOnlyList<string> Names = ["smollm", "mixtral"];

    /// <summary>
    /// Mixtral's proportions scaled down: hidden 512, 8 layers, 8 heads over 2 kv heads (head_dim 64), 8 experts of
    /// width 1792 (Mixtral's 3.5 x hidden), top-2, Mixtral's 32000-token vocabulary and untied head, rope_theta 1e6.
    /// </summary>
    public static MixtralConfig MixtralShaped() => new()
    {
        VocabSize = 32000, HiddenSize = 512, IntermediateSize = 1792, NumHiddenLayers = 8, NumAttentionHeads = 8,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 4096, RmsNormEps = 1e-5, RopeTheta = 1e6, TieWordEmbeddings = false,
        NumLocalExperts = 8, NumExpertsPerTok = 2,
    };

    public static (string Folder, LlamaConfig Config) Get(string model) => model switch
    {
        "mixtral" => ("mixtral-8x-h512-random", MixtralShaped()),
        _ => ("smollm-135m-random", TinyModelFactory.SmolLM135MConfig()),
    };

    public static string Describe(string model) => model == "mixtral"
        ? "Mixtral shape (hidden 512, 8 layers, 8 experts x 1792, top-2)" : "SmolLM-135M shape";

    /// <summary>Bytes a decoded token reads: every tensor, but of the stacked experts (ffn_*_exps) only top-k / E.</summary>
    public static long ActiveBytesPerToken(string model, GgufReader gguf)
    {
        var (_, config) = Get(model);
        double share = config is MixtralConfig m ? (double)m.NumExpertsPerTok / m.NumLocalExperts : 1;
        return gguf.Tensors.Sum(t => t.Name.Contains("_exps", StringComparison.Ordinal) ? (long)(t.ByteCount * share) : (long)t.ByteCount);
    }
}
