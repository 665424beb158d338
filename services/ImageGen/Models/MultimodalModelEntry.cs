namespace ImageGen.Models;

/// <summary>The fields of a registry entry (Models:{name}) the image service reads; the text worker reads the rest.</summary>
public sealed class MultimodalModelEntry
{
    /// <summary>Folder with the language model and the multimodal parts (multimodal.safetensors, decoder.onnx, gallery).</summary>
    public string Path { get; set; } = "";

    /// <summary>True for models with an image side (visual encoder, GILL heads, decoder).</summary>
    public bool Multimodal { get; set; }
}
