using Platform.Inference.Models.Phi3;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models.Phi3;

/// <summary>
/// Phi3ForCausalLM's forward written with plain tensor ops from the checkpoint tensors (modeling_phi3.py read line by
/// line): qkv_proj's output split into q, k, v by explicit row counts, rotary on the leading
/// int(head_dim x partial_rotary_factor) dims in rotate-half form, full causal attention with repeated K/V heads,
/// gate_up_proj's output chunked into gate then up, up x silu(gate).
/// </summary>
internal static class Phi3Reference
{
    public static Tensor Logits(Phi3Config config, IReadOnlyDictionary<string, Tensor> w, long[] tokens)
    {
        using var noGrad = no_grad();
        int heads = config.NumAttentionHeads, kv = config.KeyValueHeads, d = config.HeadDimension, t = tokens.Length;
        int rot = (int)(d * config.PartialRotaryFactor), ff = config.IntermediateSize;
        float eps = (float)config.RmsNormEps;
        Tensor Rms(Tensor x, Tensor weight) => x / (x.square().mean([-1L], keepdim: true) + eps).sqrt() * weight;
        Tensor Linear(Tensor x, string key) => x.matmul(w[key + ".weight"].t());

        var invFreq = pow(config.RopeTheta, -arange(0, rot, 2, ScalarType.Float64) / rot).to_type(ScalarType.Float32);
        var angles = arange(t, ScalarType.Float32).unsqueeze(1) * invFreq.unsqueeze(0);     // [T, rot/2]
        var cos = cat([angles.cos(), angles.cos()], 1);
        var sin = cat([angles.sin(), angles.sin()], 1);
        Tensor Rope(Tensor x)   // [h, T, D]: the first rot dims turn, the rest pass
        {
            var turned = x.narrow(2, 0, rot);
            var rotated = cat([-turned.narrow(2, rot / 2, rot / 2), turned.narrow(2, 0, rot / 2)], 2);
            return cat([turned * cos + rotated * sin, x.narrow(2, rot, d - rot)], 2);
        }
        var causal = ones(t, t).tril().logical_not();

        var x = w["model.embed_tokens.weight"].index_select(0, tensor(tokens));
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            var h = Rms(x, w[p + "input_layernorm.weight"]);
            var qkv = Linear(h, p + "self_attn.qkv_proj");
            var q = qkv[.., ..(heads * d)];
            var k = qkv[.., (heads * d)..((heads + kv) * d)];
            var v = qkv[.., ((heads + kv) * d)..];
            q = Rope(q.reshape(t, heads, d).transpose(0, 1));
            k = Rope(k.reshape(t, kv, d).transpose(0, 1)).repeat_interleave(heads / kv, 0);
            v = v.reshape(t, kv, d).transpose(0, 1).repeat_interleave(heads / kv, 0);
            var scores = q.matmul(k.transpose(1, 2)) / Math.Sqrt(d);
            var attention = scores.masked_fill(causal, float.NegativeInfinity).softmax(-1).matmul(v).transpose(0, 1).reshape(t, heads * d);
            x = x + Linear(attention, p + "self_attn.o_proj");

            h = Rms(x, w[p + "post_attention_layernorm.weight"]);
            var gateUp = Linear(h, p + "mlp.gate_up_proj");
            var gate = gateUp[.., ..ff];
            var up = gateUp[.., ff..];
            x = x + Linear(up * nn.functional.silu(gate), p + "mlp.down_proj");
        }
        x = Rms(x, w["model.norm.weight"]);
        return x.matmul((w.TryGetValue("lm_head.weight", out var head) ? head : w["model.embed_tokens.weight"]).t());
    }
}
