using System.Text.Json.Serialization;

namespace Platform.Inference.Models.Qwen3;

/// <summary>
/// config.json of Qwen3ForCausalLM (transformers/models/qwen3/configuration_qwen3.py): the Llama fields plus
/// per-head q/k RMSNorm (always on), biases only with attention_bias (default false), an explicit head_dim.
/// </summary>
public sealed record Qwen3Config : LlamaConfig
{
    public Qwen3Config()
    {
        Architectures = ["Qwen3ForCausalLM"];
        ModelType = "qwen3";
    }

    /// <summary>Sliding-window attention on the layers from max_window_layers on; the engine attends to the full context.</summary>
    [JsonPropertyName("use_sliding_window")] public bool UseSlidingWindow { get; init; }

    /// <summary>Qwen3Attention: q/k/v/o biases together, from attention_bias (modeling_qwen3.py).</summary>
    public override bool HasQkvBias => AttentionBias;
    public override bool HasOutputBias => AttentionBias;

    public override void Validate()
    {
        if (Architecture != "Qwen3ForCausalLM") throw new ArgumentException($"Qwen3Config needs architecture Qwen3ForCausalLM, got '{Architecture}'");
        if (UseSlidingWindow) throw new ArgumentException("use_sliding_window = true is not supported (the engine attends to the full context)");
        ValidateShape();
    }
}
