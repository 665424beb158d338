using Platform.Inference.Engine;

namespace TextLlm.Models;

/// <summary>One entry of the model registry, configuration section "Models:{name}".</summary>
public sealed class ModelEntry
{
    /// <summary>Folder with config.json, model.safetensors and the tokenizer; relative paths resolve against the content root or the repository root.</summary>
    public string Path { get; set; } = "";

    /// <summary>"text" for models this worker serves; other services own other kinds.</summary>
    public string Kind { get; set; } = "text";

    public EngineOptions Engine { get; set; } = new();
}
