namespace Platform.Multimodal.Training;

/// <summary>File names of a multimodal model folder (the LM's Hugging Face files sit beside these).</summary>
public static class ModelFiles
{
    public const string Config = Platform.Inference.Loading.ImageSlotContext.ConfigFile;
    public const string Heads = "multimodal.safetensors";
    public const string DecoderWeights = "decoder.safetensors";
    public const string DecoderOnnx = "decoder.onnx";
    public const string Gallery = "gallery.safetensors";
    public const string GalleryCaptions = "gallery.json";
}
