using System.Text.Json.Serialization;
using Platform.Inference.Models.Moe;

namespace Platform.Inference.Models.Olmoe;

/// <summary>config.json of OlmoeForCausalLM (transformers/models/olmoe/configuration_olmoe.py).</summary>
public sealed record OlmoeConfig : MoeConfig
{
    public OlmoeConfig()
    {
        Architectures = ["OlmoeForCausalLM"];
        ModelType = "olmoe";
        IntermediateSize = 1024;
    }

    [JsonPropertyName("num_experts")] public int NumExperts { get; init; } = 64;
    [JsonPropertyName("num_experts_per_tok")] public int NumExpertsPerTok { get; init; } = 8;
    [JsonPropertyName("norm_topk_prob")] public bool NormTopkProb { get; init; }
    /// <summary>When set, q, k and v (after the q/k norms) are clamped to [-clip_qkv, clip_qkv].</summary>
    [JsonPropertyName("clip_qkv")] public double? ClipQkv { get; init; }
    [JsonPropertyName("router_aux_loss_coef")] public double RouterAuxLossCoef { get; init; } = 0.01;

    public override int ExpertCount => NumExperts;
    public override int ExpertsPerToken => NumExpertsPerTok;
    public override bool RenormalizeTopK => NormTopkProb;
    public override int ExpertIntermediateSize => IntermediateSize;

    public override void Validate()
    {
        ValidateExperts("OlmoeForCausalLM");
        if (ClipQkv is <= 0) throw new ArgumentException($"clip_qkv {ClipQkv} must be positive");
    }
}
