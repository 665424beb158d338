using Platform.Inference.Models;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Moe;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Qwen2Moe;
using Platform.Inference.Models.Qwen3;
using static TorchSharp.torch;

namespace Platform.Inference.Gguf;

/// <summary>
/// The Mixture-of-Experts part of the export, as llama.cpp's convert_hf_to_gguf.py writes it (MixtralModel is
/// LlamaModel with experts, OlmoeModel, Qwen2MoeModel): Mixtral as architecture "llama" with
/// llama.expert_count / expert_used_count, OLMoE as "olmoe", Qwen2-MoE as "qwen2moe" (plus the expert and shared
/// expert widths); per layer the router blk.N.ffn_gate_inp, the experts stacked as blk.N.ffn_gate_exps /
/// ffn_up_exps [E, I, H] and ffn_down_exps [E, H, I], and Qwen2-MoE's shared expert (ffn_gate_inp_shexp,
/// ffn_{gate,up,down}_shexp). Both HF expert layouts give the same file.
/// </summary>
public static partial class HfGgufExporter
{
    private static string ArchitectureOf(LlamaConfig config) => config switch
    {
        OlmoeConfig => "olmoe",
        Qwen2MoeConfig => "qwen2moe",
        MixtralConfig => "llama",
        Qwen3Config => "qwen3",
        Models.Phi3.Phi3Config => "phi3",
        _ => config.IsQwen2 ? "qwen2" : "llama",
    };

    private static void AddExpertMetadata(GgufWriter w, string arch, MoeConfig moe)
    {
        // llama.cpp's olmoe and qwen2moe graphs never renormalise the top-k weights, and qwen2moe has no dense
        // layers: such checkpoints would run, but differently, so they are refused.
        if (moe is not MixtralConfig && moe.RenormalizeTopK)
            throw new NotSupportedException($"norm_topk_prob = true is not supported by llama.cpp's {arch} architecture (it does not renormalise the top-k weights).");
        if (moe is OlmoeConfig { ClipQkv: not null })
            throw new NotSupportedException("clip_qkv is not supported by the olmoe export.");
        if (moe is Qwen2MoeConfig q && Enumerable.Range(0, q.NumHiddenLayers).Any(i => !q.IsSparseLayer(i)))
            throw new NotSupportedException("dense layers (mlp_only_layers, decoder_sparse_step > 1) are not supported by llama.cpp's qwen2moe architecture.");
        w.AddUInt32($"{arch}.expert_count", (uint)moe.ExpertCount);
        w.AddUInt32($"{arch}.expert_used_count", (uint)moe.ExpertsPerToken);
        if (moe is Qwen2MoeConfig qm)
        {
            w.AddUInt32($"{arch}.expert_feed_forward_length", (uint)qm.MoeIntermediateSize);
            w.AddUInt32($"{arch}.expert_shared_feed_forward_length", (uint)qm.SharedExpertIntermediateSize);
        }
    }

    /// <summary>Layer <paramref name="layer"/>'s router, stacked experts and shared expert, from either HF layout.</summary>
    private static IEnumerable<(string Name, Tensor Tensor)> MapExperts(MoeConfig moe, int layer, Func<string, long[], Tensor> take)
    {
        long h = moe.HiddenSize, n = moe.ExpertIntermediateSize, e = moe.ExpertCount;
        string b = $"blk.{layer}.";
        string block = $"model.layers.{layer}." + (moe is MixtralConfig && moe.Layout == ExpertLayout.PerExpert ? "block_sparse_moe." : "mlp.");
        var result = new List<(string, Tensor)> { (b + "ffn_gate_inp.weight", take(block + "gate.weight", [e, h])) };
        if (moe.Layout == ExpertLayout.Fused)
        {
            var gateUp = take(block + "experts.gate_up_proj", [e, 2 * n, h]);
            result.Add((b + "ffn_gate_exps.weight", gateUp.narrow(1, 0, n).contiguous()));
            result.Add((b + "ffn_up_exps.weight", gateUp.narrow(1, n, n).contiguous()));
            result.Add((b + "ffn_down_exps.weight", take(block + "experts.down_proj", [e, h, n])));
        }
        else
        {
            var (g, u, d) = moe is MixtralConfig ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
            Tensor Stack(string name, long rows, long cols) =>
                stack(Enumerable.Range(0, (int)e).Select(x => take($"{block}experts.{x}.{name}.weight", [rows, cols])).ToArray());
            result.Add((b + "ffn_gate_exps.weight", Stack(g, n, h)));
            result.Add((b + "ffn_up_exps.weight", Stack(u, n, h)));
            result.Add((b + "ffn_down_exps.weight", Stack(d, h, n)));
        }
        if (moe is Qwen2MoeConfig q)
        {
            long s = q.SharedExpertIntermediateSize;
            result.Add((b + "ffn_gate_inp_shexp.weight", take(block + "shared_expert_gate.weight", [1, h]).view(h)));
            result.Add((b + "ffn_gate_shexp.weight", take(block + "shared_expert.gate_proj.weight", [s, h])));
            result.Add((b + "ffn_up_shexp.weight", take(block + "shared_expert.up_proj.weight", [s, h])));
            result.Add((b + "ffn_down_shexp.weight", take(block + "shared_expert.down_proj.weight", [h, s])));
        }
        return result;
    }
}
