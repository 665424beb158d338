using System.Text.Json.Serialization;
using Platform.Inference.Models.Moe;

namespace Platform.Inference.Models.Mixtral;

/// <summary>config.json of MixtralForCausalLM (transformers/models/mixtral/configuration_mixtral.py).</summary>
public sealed record MixtralConfig : MoeConfig
{
    public MixtralConfig()
    {
        Architectures = ["MixtralForCausalLM"];
        ModelType = "mixtral";
        IntermediateSize = 14336;
    }

    [JsonPropertyName("num_local_experts")] public int NumLocalExperts { get; init; } = 8;
    [JsonPropertyName("num_experts_per_tok")] public int NumExpertsPerTok { get; init; } = 2;
    /// <summary>Training only (load-balancing loss); kept so config.json round-trips.</summary>
    [JsonPropertyName("router_aux_loss_coef")] public double RouterAuxLossCoef { get; init; } = 0.02;
    /// <summary>Training only (multiplicative jitter on the router input); inference ignores it, as HF does in eval.</summary>
    [JsonPropertyName("router_jitter_noise")] public double RouterJitterNoise { get; init; }

    public override int ExpertCount => NumLocalExperts;
    public override int ExpertsPerToken => NumExpertsPerTok;
    /// <summary>MixtralSparseMoeBlock always divides the top-k weights by their sum.</summary>
    public override bool RenormalizeTopK => true;
    public override int ExpertIntermediateSize => IntermediateSize;

    public override void Validate() => ValidateExperts("MixtralForCausalLM");
}
