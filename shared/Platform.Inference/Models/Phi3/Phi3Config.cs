using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Inference.Models.Phi3;

/// <summary>
/// config.json of Phi3ForCausalLM (transformers/models/phi3/configuration_phi3.py; defaults are Phi-3-mini's): the
/// Llama fields, no biases anywhere, an optional partial rotary factor (Phi-4-mini turns 3/4 of each head). Only
/// rope_scaling null is run: the long-context variants' "longrope" (alias "su") per-frequency factors are refused at
/// load. sliding_window is read but not applied: the engine attends to the whole context, as llama.cpp's phi3 graph
/// does (it turns Phi SWA off), which equals transformers' windowed attention while the context is at most the window.
/// </summary>
public sealed record Phi3Config : LlamaConfig
{
    public const string ArchitectureName = "Phi3ForCausalLM";

    public Phi3Config()
    {
        Architectures = [ArchitectureName];
        ModelType = "phi3";
        VocabSize = 32064;
        HiddenSize = 3072;
        IntermediateSize = 8192;
        NumHiddenLayers = 32;
        NumAttentionHeads = 32;
        MaxPositionEmbeddings = 4096;
        RmsNormEps = 1e-5;
    }

    /// <summary>Fraction of head_dim the rotary embedding turns (leading dims; modeling_phi3.py apply_rotary_pos_emb).</summary>
    [JsonPropertyName("partial_rotary_factor")] public double PartialRotaryFactor { get; init; } = 1.0;
    /// <summary>The pre-training context, read by longrope scaling only (refused), kept so config.json round trips.</summary>
    [JsonPropertyName("original_max_position_embeddings")] public int? OriginalMaxPositionEmbeddings { get; init; }

    /// <summary>int(head_dim * partial_rotary_factor), as Phi3RotaryEmbedding computes its dim.</summary>
    [JsonIgnore] public override int RotaryDimension => (int)(HeadDimension * PartialRotaryFactor);

    /// <summary>Phi3Attention's qkv_proj and o_proj have no biases whatever attention_bias says (modeling_phi3.py).</summary>
    public override bool HasQkvBias => false;
    public override bool HasOutputBias => false;

    public override void Validate()
    {
        if (Architecture != ArchitectureName) throw new ArgumentException($"Phi3Config needs architecture {ArchitectureName}, got '{Architecture}'");
        if (RopeScaling is { } rs)
            throw new ArgumentException($"rope_scaling type '{rs.Type}' is not supported for {ArchitectureName}: only rope_scaling null runs (the 4k-context Phi-3 models); "
                + "the long-context variants' longrope/su scaling is not implemented");
        if (PartialRotaryFactor is <= 0 or > 1 || double.IsNaN(PartialRotaryFactor))
            throw new ArgumentException($"partial_rotary_factor {PartialRotaryFactor} must be in (0, 1]");
        if (MlpBias) throw new ArgumentException("mlp_bias is not a Phi-3 field (Phi3MLP has no biases)");
        ValidateShape();
        if (RotaryDimension < 2 || RotaryDimension % 2 != 0)
            throw new ArgumentException($"partial_rotary_factor {PartialRotaryFactor} gives {RotaryDimension} rotary dims of head_dim {HeadDimension}; they must be even and at least 2");
    }

    /// <summary>Whether config.json names Phi3ForCausalLM (or, without "architectures", model_type phi3).</summary>
    public static bool Matches(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return false;
            if (root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0)
                return a[0].ValueKind == JsonValueKind.String && a[0].GetString() == ArchitectureName;
            return root.TryGetProperty("model_type", out var m) && m.ValueKind == JsonValueKind.String && m.GetString() == "phi3";
        }
        catch (JsonException) { return false; }   // the typed parse reports the error
    }
}
