using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Inference.Models.Mixtral;
using Platform.Inference.Models.Olmoe;
using Platform.Inference.Models.Qwen2Moe;
using Platform.Inference.Models.Qwen3;

namespace Platform.Inference.Models.Moe;

/// <summary>How a checkpoint stores its experts.</summary>
public enum ExpertLayout
{
    /// <summary>One module per expert: <c>experts.E.w1|w2|w3.weight</c> (Mixtral) or <c>experts.E.{gate,up,down}_proj.weight</c>.</summary>
    PerExpert,
    /// <summary>Stacked parameters <c>experts.gate_up_proj</c> [E, 2I, H] (gate rows first) and <c>experts.down_proj</c>
    /// [E, H, I] (transformers 5's MixtralExperts / OlmoeExperts / Qwen2MoeExperts).</summary>
    Fused,
}

/// <summary>
/// What the sparse blocks of every Mixture-of-Experts family share; each family's config class mirrors its own
/// config.json and maps its field names onto these.
/// </summary>
public abstract record MoeConfig : LlamaConfig
{
    /// <summary>Experts per sparse layer (Mixtral num_local_experts, OLMoE/Qwen2-MoE num_experts).</summary>
    [JsonIgnore] public abstract int ExpertCount { get; }
    /// <summary>num_experts_per_tok (top-k).</summary>
    [JsonIgnore] public abstract int ExpertsPerToken { get; }
    /// <summary>Whether the top-k routing weights are divided by their sum (Mixtral always; else norm_topk_prob).</summary>
    [JsonIgnore] public abstract bool RenormalizeTopK { get; }
    /// <summary>Each expert's intermediate width.</summary>
    [JsonIgnore] public abstract int ExpertIntermediateSize { get; }
    /// <summary>Whether layer <paramref name="layer"/> is sparse (Qwen2-MoE may keep some layers dense).</summary>
    public virtual bool IsSparseLayer(int layer) => true;

    /// <summary>How the weights store the experts; not a config.json field: the loader reads it from the
    /// checkpoint's tensor names (<see cref="MoeConfigs.DetectLayout"/>).</summary>
    [JsonIgnore] public ExpertLayout Layout { get; init; } = ExpertLayout.PerExpert;

    protected void ValidateExperts(string architecture)
    {
        if (Architecture != architecture)
            throw new ArgumentException($"unknown architecture '{Architecture}' for model_type '{ModelType}' (expected {architecture})");
        ValidateShape();
        if (ExpertCount <= 0) throw new ArgumentException("the number of experts must be positive");
        if (ExpertsPerToken <= 0 || ExpertsPerToken > ExpertCount)
            throw new ArgumentException($"num_experts_per_tok {ExpertsPerToken} must be between 1 and the number of experts {ExpertCount}");
        if (ExpertIntermediateSize <= 0) throw new ArgumentException("the experts' intermediate size must be positive");
    }
}

/// <summary>The Mixture-of-Experts families the engine runs, and how config.json picks one.</summary>
public static class MoeConfigs
{
    public static readonly IReadOnlySet<string> Architectures =
        new HashSet<string>(StringComparer.Ordinal) { "MixtralForCausalLM", "OlmoeForCausalLM", "Qwen2MoeForCausalLM" };

    /// <summary>The config class for a config.json text: by "architectures"[0], else "model_type".</summary>
    public static Type ConfigType(string json)
    {
        string? arch = null, type = null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (doc.RootElement.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0
                    && a[0].ValueKind == JsonValueKind.String) arch = a[0].GetString();
                if (doc.RootElement.TryGetProperty("model_type", out var m) && m.ValueKind == JsonValueKind.String) type = m.GetString();
            }
        }
        catch (JsonException) { return typeof(LlamaConfig); }   // the typed parse reports the error
        return (arch, type) switch
        {
            ("MixtralForCausalLM", _) or (null, "mixtral") => typeof(MixtralConfig),
            ("OlmoeForCausalLM", _) or (null, "olmoe") => typeof(OlmoeConfig),
            ("Qwen2MoeForCausalLM", _) or (null, "qwen2_moe") => typeof(Qwen2MoeConfig),
            ("Qwen3ForCausalLM", _) or (null, "qwen3") => typeof(Qwen3Config),
            _ => typeof(LlamaConfig),
        };
    }

    /// <summary>
    /// The expert layout the tensor names use: any <c>.experts.gate_up_proj</c> means fused, any
    /// <c>.experts.0.</c> per expert; a checkpoint mixing both is rejected.
    /// </summary>
    public static ExpertLayout DetectLayout(IEnumerable<string> tensorNames)
    {
        bool fused = false, perExpert = false;
        foreach (var n in tensorNames)
        {
            if (n.EndsWith(".experts.gate_up_proj", StringComparison.Ordinal) || n.EndsWith(".experts.down_proj", StringComparison.Ordinal)) fused = true;
            else if (n.Contains(".experts.", StringComparison.Ordinal)) perExpert = true;
        }
        if (fused && perExpert) throw new ArgumentException("the checkpoint mixes fused (experts.gate_up_proj) and per-expert (experts.E.*) tensors");
        return fused ? ExpertLayout.Fused : ExpertLayout.PerExpert;
    }
}
