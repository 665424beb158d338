using Platform.Inference.Models;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Qwen2Moe;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Moe;

/// <summary>Tiny random Mixture-of-Experts configs (one per family) and the per-expert to stacked key rewrite.</summary>
public static class MoeTestModels
{
    public static readonly string[] Families = ["mixtral", "olmoe", "qwen2_moe"];

    public static LlamaConfig Config(string family, bool denseLayer = false) => family switch
    {
        "mixtral" => new MixtralConfig
        {
            VocabSize = 512, HiddenSize = 64, IntermediateSize = 96, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
            MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, RopeTheta = 10000, NumLocalExperts = 4, NumExpertsPerTok = 2,
        },
        // MHA: llama.cpp's olmoe sizes k_norm as n_embd.
        "olmoe" => new OlmoeConfig
        {
            VocabSize = 512, HiddenSize = 64, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 4,
            MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, RopeTheta = 10000, NumExperts = 8, NumExpertsPerTok = 2, NormTopkProb = false,
        },
        "qwen2_moe" => new Qwen2MoeConfig
        {
            VocabSize = 512, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = denseLayer ? 3 : 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
            MaxPositionEmbeddings = 512, RmsNormEps = 1e-6, RopeTheta = 1000000, NumExperts = 4, NumExpertsPerTok = 2, NormTopkProb = false,
            MoeIntermediateSize = 48, SharedExpertIntermediateSize = 96, MlpOnlyLayers = denseLayer ? [1] : [],
        },
        _ => throw new ArgumentException(family),
    };

    /// <summary>The per-expert folder's weights rewritten in the stacked layout (same values) into a new folder.</summary>
    public static string ToFusedLayout(string folder, string destination, LlamaConfig config)
    {
        Directory.CreateDirectory(destination);
        foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(destination, Path.GetFileName(f)), overwrite: true);
        var sd = Safetensors.LoadStateDict(Path.Combine(folder, "model.safetensors"));
        var moe = (Platform.Inference.Models.Moe.MoeConfig)config;
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            if (!moe.IsSparseLayer(i)) continue;
            bool mixtral = config is MixtralConfig;
            string from = $"model.layers.{i}.{(mixtral ? "block_sparse_moe" : "mlp")}.", to = $"model.layers.{i}.mlp.";
            var (g, u, d) = mixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
            var gateUp = new List<Tensor>();
            var down = new List<Tensor>();
            for (int e = 0; e < moe.ExpertCount; e++)
            {
                gateUp.Add(cat([sd[$"{from}experts.{e}.{g}.weight"], sd[$"{from}experts.{e}.{u}.weight"]], 0));
                down.Add(sd[$"{from}experts.{e}.{d}.weight"]);
                foreach (var n in new[] { g, u, d }) sd.Remove($"{from}experts.{e}.{n}.weight");
            }
            sd[$"{to}experts.gate_up_proj"] = stack(gateUp.ToArray());
            sd[$"{to}experts.down_proj"] = stack(down.ToArray());
            var router = sd[$"{from}gate.weight"];
            sd.Remove($"{from}gate.weight");
            sd[$"{to}gate.weight"] = router;
        }
        Safetensors.SaveStateDict(Path.Combine(destination, "model.safetensors"), sd);
        return destination;
    }
}
