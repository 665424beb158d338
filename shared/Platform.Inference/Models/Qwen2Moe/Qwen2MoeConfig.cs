using System.Text.Json.Serialization;
using Platform.Inference.Models.Moe;

namespace Platform.Inference.Models.Qwen2Moe;

/// <summary>config.json of Qwen2MoeForCausalLM (transformers/models/qwen2_moe/configuration_qwen2_moe.py).</summary>
public sealed record Qwen2MoeConfig : MoeConfig
{
    public Qwen2MoeConfig()
    {
        Architectures = ["Qwen2MoeForCausalLM"];
        ModelType = "qwen2_moe";
        IntermediateSize = 5632;
    }

    [JsonPropertyName("num_experts")] public int NumExperts { get; init; } = 60;
    [JsonPropertyName("num_experts_per_tok")] public int NumExpertsPerTok { get; init; } = 4;
    [JsonPropertyName("norm_topk_prob")] public bool NormTopkProb { get; init; }
    [JsonPropertyName("moe_intermediate_size")] public int MoeIntermediateSize { get; init; } = 1408;
    [JsonPropertyName("shared_expert_intermediate_size")] public int SharedExpertIntermediateSize { get; init; } = 5632;
    /// <summary>Layer i is sparse when (i + 1) % decoder_sparse_step == 0 and i is not in mlp_only_layers.</summary>
    [JsonPropertyName("decoder_sparse_step")] public int DecoderSparseStep { get; init; } = 1;
    [JsonPropertyName("mlp_only_layers")] public IReadOnlyList<int> MlpOnlyLayers { get; init; } = [];
    [JsonPropertyName("use_sliding_window")] public bool UseSlidingWindow { get; init; }
    [JsonPropertyName("router_aux_loss_coef")] public double RouterAuxLossCoef { get; init; } = 0.001;

    public override int ExpertCount => NumExperts;
    public override int ExpertsPerToken => NumExpertsPerTok;
    public override bool RenormalizeTopK => NormTopkProb;
    public override int ExpertIntermediateSize => MoeIntermediateSize;
    /// <summary>Qwen2MoeAttention: q/k/v always with bias, o_proj without (modeling_qwen2_moe.py).</summary>
    public override bool HasQkvBias => true;
    public override bool HasOutputBias => false;

    /// <summary>Qwen2MoeDecoderLayer's rule.</summary>
    public override bool IsSparseLayer(int layer) =>
        !MlpOnlyLayers.Contains(layer) && NumExperts > 0 && (layer + 1) % DecoderSparseStep == 0;

    public override void Validate()
    {
        ValidateExperts("Qwen2MoeForCausalLM");
        if (DecoderSparseStep <= 0) throw new ArgumentException($"decoder_sparse_step {DecoderSparseStep} must be positive");
        if (SharedExpertIntermediateSize <= 0) throw new ArgumentException("shared_expert_intermediate_size must be positive");
        if (UseSlidingWindow) throw new ArgumentException("use_sliding_window = true is not supported (the engine attends to the full context)");
    }
}
