using Platform.Inference.Engine;

namespace TextLlm.Models;

/// <summary>One entry of the model registry, configuration section "Models:{name}".</summary>
public sealed class ModelEntry
{
    /// <summary>Folder with config.json, model.safetensors and the tokenizer; relative paths resolve against the content root or the repository root.</summary>
    public string Path { get; set; } = "";

    /// <summary>"text" for models this worker serves; other services own other kinds.</summary>
    public string Kind { get; set; } = "text";

    /// <summary>True for a multimodal model (e.g. models/demo): the worker splices visual tokens into prompts, reports
    /// GILL image slots, and announces that the model accepts images; ImageGen serves the image side of the same folder.</summary>
    public bool Multimodal { get; set; }

    /// <summary>How POST /v1/embeddings pools this model's hidden states: "last_token" (the default, decoder embedding
    /// models) or "mean".</summary>
    public string Pooling { get; set; } = EmbeddingPoolings.LastToken;

    public EngineOptions Engine { get; set; } = new();
}
