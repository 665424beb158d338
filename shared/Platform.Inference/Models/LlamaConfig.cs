using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Inference.Models.Moe;

namespace Platform.Inference.Models;

/// <summary>
/// Mirrors a Hugging Face config.json for LlamaForCausalLM and its close relatives (Qwen2ForCausalLM,
/// MistralForCausalLM; Qwen3ForCausalLM and the Mixture-of-Experts families derive from it). Property names are the config.json keys (transformers/models/llama/configuration_llama.py).
/// </summary>
public record LlamaConfig
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Architectures the engine runs (config.json "architectures"[0]).</summary>
    public static readonly IReadOnlySet<string> SupportedArchitectures =
        new HashSet<string>(StringComparer.Ordinal) { "LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM" };

    [JsonPropertyName("architectures")] public IReadOnlyList<string> Architectures { get; init; } = ["LlamaForCausalLM"];
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "llama";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 32000;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 4096;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 11008;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 32;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 32;
    /// <summary>Null in config.json means multi-head attention (= num_attention_heads).</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    /// <summary>Null means hidden_size / num_attention_heads.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDim { get; init; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 2048;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; init; }
    /// <summary>Llama: q/k/v/o biases; Qwen2 has q/k/v biases always (see <see cref="HasQkvBias"/>).</summary>
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    /// <summary>An int or a list of ints in config.json.</summary>
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenId { get; init; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }
    /// <summary>Mistral's sliding window; the engine attends to the full context (exact while context &lt;= window).</summary>
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; }

    [JsonIgnore] public string Architecture => Architectures.Count > 0 ? Architectures[0] : "";
    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;
    [JsonIgnore] public int HeadDimension => HeadDim ?? HiddenSize / NumAttentionHeads;
    /// <summary>Leading dimensions of each head that the rotary embedding turns (the rest pass through); all of them
    /// unless a family has a partial rotary factor (Phi3Config).</summary>
    [JsonIgnore] public virtual int RotaryDimension => HeadDimension;
    /// <summary>Qwen2Attention always has q/k/v biases and no o_proj bias (modeling_qwen2.py).</summary>
    [JsonIgnore] public bool IsQwen2 => Architecture == "Qwen2ForCausalLM" || ModelType == "qwen2";
    [JsonIgnore] public virtual bool HasQkvBias => IsQwen2 || AttentionBias;
    [JsonIgnore] public virtual bool HasOutputBias => !IsQwen2 && AttentionBias;

    /// <summary>EOS ids from config.json (int or list).</summary>
    [JsonIgnore] public IReadOnlyList<int> EosTokenIds => ReadIds(EosTokenId);

    internal static IReadOnlyList<int> ReadIds(JsonElement? e) => e switch
    {
        { ValueKind: JsonValueKind.Number } n => [n.GetInt32()],
        { ValueKind: JsonValueKind.Array } a => a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32()).ToArray(),
        _ => [],
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent field.</summary>
    public virtual void Validate()
    {
        if (!SupportedArchitectures.Contains(Architecture))
            throw new ArgumentException($"unknown architecture '{Architecture}' (supported: {string.Join(", ", SupportedArchitectures.Append("Qwen3ForCausalLM").Append("Phi3ForCausalLM").Concat(MoeConfigs.Architectures))})");
        ValidateShape();
    }

    /// <summary>The checks every family shares (sizes, heads, activation, rope).</summary>
    protected void ValidateShape()
    {
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0 || NumAttentionHeads <= 0)
            throw new ArgumentException("vocab_size, hidden_size, intermediate_size, num_hidden_layers and num_attention_heads must be positive");
        if (KeyValueHeads <= 0 || NumAttentionHeads % KeyValueHeads != 0)
            throw new ArgumentException($"num_attention_heads {NumAttentionHeads} is not a multiple of num_key_value_heads {KeyValueHeads}");
        if (HeadDim is null && HiddenSize % NumAttentionHeads != 0)
            throw new ArgumentException($"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        if (HeadDimension % 2 != 0) throw new ArgumentException($"head_dim {HeadDimension} must be even for rotary embeddings");
        if (HiddenAct != "silu") throw new ArgumentException($"hidden_act '{HiddenAct}' is not supported (only silu)");
        if (RopeScaling is { } rs && rs.Type is not ("llama3" or "default" or "linear"))
            throw new ArgumentException($"rope_scaling type '{rs.Type}' is not supported (llama3, linear)");
    }

    /// <summary>Parses config.json; Phi-3, Qwen3 and the Mixture-of-Experts families (by "architectures"[0], else
    /// "model_type") get their own config class.</summary>
    public static LlamaConfig Parse(string json) =>
        (LlamaConfig?)JsonSerializer.Deserialize(json, Phi3.Phi3Config.Matches(json) ? typeof(Phi3.Phi3Config) : MoeConfigs.ConfigType(json), JsonOptions)
        ?? throw new JsonException("config.json is null");

    /// <summary>config.json text with every field of the runtime config class.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, GetType(), JsonOptions);
}

/// <summary>config.json "rope_scaling" (transformers/modeling_rope_utils.py). "type" and "rope_type" are synonyms.</summary>
public sealed record RopeScaling
{
    [JsonPropertyName("rope_type")] public string? RopeType { get; init; }
    [JsonPropertyName("type")] public string? TypeAlias { get; init; }
    [JsonPropertyName("factor")] public double Factor { get; init; } = 1.0;
    [JsonPropertyName("low_freq_factor")] public double LowFreqFactor { get; init; } = 1.0;
    [JsonPropertyName("high_freq_factor")] public double HighFreqFactor { get; init; } = 4.0;
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalMaxPositionEmbeddings { get; init; } = 8192;

    [JsonIgnore] public string Type => RopeType ?? TypeAlias ?? "default";
}
