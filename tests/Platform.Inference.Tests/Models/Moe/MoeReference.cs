using Platform.Inference.Models;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Moe;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Qwen2Moe;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Moe;

/// <summary>
/// The reference forward of the three families written with plain tensor ops straight from the checkpoint's
/// per-expert weights (modeling_mixtral.py / modeling_olmoe.py / modeling_qwen2_moe.py read line by line): full
/// causal attention with repeated K/V heads, rotate-half rotary, and routing token by token (softmax, sort,
/// top-k, renormalise) with each chosen expert evaluated on its own.
/// </summary>
public static class MoeReference
{
    public static Tensor Logits(LlamaConfig config, IReadOnlyDictionary<string, Tensor> w, long[] tokens)
    {
        using var noGrad = no_grad();
        var moe = (MoeConfig)config;
        int heads = config.NumAttentionHeads, kv = config.KeyValueHeads, d = config.HeadDimension, t = tokens.Length;
        float eps = (float)config.RmsNormEps;
        Tensor Rms(Tensor x, Tensor weight) => x / (x.square().mean([-1L], keepdim: true) + eps).sqrt() * weight;
        Tensor Linear(Tensor x, string key) => x.matmul(w[key + ".weight"].t()) + (w.TryGetValue(key + ".bias", out var b) ? b : zeros(1));

        var invFreq = pow(config.RopeTheta, -arange(0, d, 2, ScalarType.Float64) / d).to_type(ScalarType.Float32);
        var angles = arange(t, ScalarType.Float32).unsqueeze(1) * invFreq.unsqueeze(0);     // [T, D/2]
        var cos = cat([angles.cos(), angles.cos()], 1);
        var sin = cat([angles.sin(), angles.sin()], 1);
        Tensor Rope(Tensor x)   // [h, T, D]
        {
            var rotated = cat([-x.narrow(2, d / 2, d / 2), x.narrow(2, 0, d / 2)], 2);
            return x * cos + rotated * sin;
        }
        var causal = ones(t, t).tril().logical_not();

        var x = w["model.embed_tokens.weight"].index_select(0, tensor(tokens));
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            var h = Rms(x, w[p + "input_layernorm.weight"]);
            var q = Linear(h, p + "self_attn.q_proj");
            var k = Linear(h, p + "self_attn.k_proj");
            var v = Linear(h, p + "self_attn.v_proj");
            if (config is OlmoeConfig)
            {
                q = Rms(q, w[p + "self_attn.q_norm.weight"]);
                k = Rms(k, w[p + "self_attn.k_norm.weight"]);
            }
            q = Rope(q.view(t, heads, d).transpose(0, 1));
            k = Rope(k.view(t, kv, d).transpose(0, 1)).repeat_interleave(heads / kv, 0);
            v = v.view(t, kv, d).transpose(0, 1).repeat_interleave(heads / kv, 0);
            var scores = q.matmul(k.transpose(1, 2)) / Math.Sqrt(d);
            var attention = scores.masked_fill(causal, float.NegativeInfinity).softmax(-1).matmul(v).transpose(0, 1).reshape(t, heads * d);
            x = x + Linear(attention, p + "self_attn.o_proj");

            h = Rms(x, w[p + "post_attention_layernorm.weight"]);
            x = x + (moe.IsSparseLayer(i) ? SparseBlock(moe, w, p, h) : Mlp(h, w, p + "mlp.", "gate_proj", "up_proj", "down_proj", -1));
        }
        x = Rms(x, w["model.norm.weight"]);
        return x.matmul((w.TryGetValue("lm_head.weight", out var head) ? head : w["model.embed_tokens.weight"]).t());
    }

    private static Tensor Mlp(Tensor x, IReadOnlyDictionary<string, Tensor> w, string prefix, string g, string u, string d, int expert)
    {
        string e = expert >= 0 ? $"experts.{expert}." : "";
        var activated = nn.functional.silu(x.matmul(w[$"{prefix}{e}{g}.weight"].t())) * x.matmul(w[$"{prefix}{e}{u}.weight"].t());
        return activated.matmul(w[$"{prefix}{e}{d}.weight"].t());
    }

    private static Tensor SparseBlock(MoeConfig moe, IReadOnlyDictionary<string, Tensor> w, string p, Tensor h)
    {
        bool mixtral = moe is MixtralConfig;
        string block = p + (mixtral ? "block_sparse_moe." : "mlp.");
        var (g, u, d) = mixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
        var rows = new List<Tensor>();
        for (int t = 0; t < h.shape[0]; t++)
        {
            var token = h[t].unsqueeze(0);                                       // [1, H]
            var probabilities = token.matmul(w[block + "gate.weight"].t()).to_type(ScalarType.Float32).softmax(-1)[0];
            var (sorted, order) = probabilities.sort(0, descending: true);
            var top = sorted.narrow(0, 0, moe.ExpertsPerToken);
            // Mixtral always renormalises; OLMoE and Qwen2-MoE when norm_topk_prob.
            bool renormalise = moe switch { MixtralConfig => true, OlmoeConfig o => o.NormTopkProb, Qwen2MoeConfig q => q.NormTopkProb, _ => throw new ArgumentException("family") };
            if (renormalise) top = top / top.sum();
            var y = zeros_like(token);
            for (int j = 0; j < moe.ExpertsPerToken; j++)
                y = y + top[j] * Mlp(token, w, block, g, u, d, (int)order[j].item<long>());
            if (moe is Qwen2MoeConfig)
                y = y + token.matmul(w[block + "shared_expert_gate.weight"].t()).sigmoid() * Mlp(token, w, block + "shared_expert.", "gate_proj", "up_proj", "down_proj", -1);
            rows.Add(y);
        }
        return cat(rows.ToArray(), 0);
    }
}
