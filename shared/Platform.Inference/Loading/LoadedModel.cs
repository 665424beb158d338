using Platform.Inference.Chat;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using Platform.Inference.Tokenization;
using static TorchSharp.torch;

namespace Platform.Inference.Loading;

/// <summary>A model folder loaded into memory: config, weights, tokenizer, chat template, generation defaults.</summary>
public sealed class LoadedModel : IDisposable
{
    public required string Folder { get; init; }
    public required LlamaConfig Config { get; init; }
    public required LlamaForCausalLM Model { get; init; }
    public required TextTokenizer Tokenizer { get; init; }
    public required ChatTemplate ChatTemplate { get; init; }
    public required GenerationConfig GenerationConfig { get; init; }
    public required Device Device { get; init; }
    /// <summary>End-of-sequence ids from generation_config.json, config.json and the tokenizer.</summary>
    public required IReadOnlyList<int> EosTokenIds { get; init; }
    /// <summary>Words before a picture's [IMG] tokens reported with its image slot (<see cref="Loading.ImageSlotContext"/>).</summary>
    public int ImageSlotContext { get; init; }
    /// <summary>The image adapter of an image-token model (image_adapter_config.json + image_adapter.safetensors beside
    /// the base files), attached to <see cref="Model"/>; null for a text-only model.</summary>
    public ImageTokenAdapter? ImageAdapter { get; init; }
    /// <summary>The appended image vocabulary of an image-token model; null for a text-only model.</summary>
    public ImageVocabulary? ImageVocabulary { get; init; }
    /// <summary>image_adapter_config.json of an image-token model (grid size, token names, LoRA rank); null for a text-only model.</summary>
    public ImageTokenAdapterConfig? ImageAdapterConfig { get; init; }
    /// <summary>Tokens every forward of a Mixture-of-Experts model routed, per layer, expert and modality (a row is
    /// Image when its input id is at least the base vocabulary); null for a dense model.</summary>
    public ModalityRoutingStatistics? Routing => Model.Routing;

    public static LoadedModel Load(string folder, string device = "cpu", string? chatTemplate = null) =>
        ModelLoader.Load(folder, device, chatTemplate);

    public void Dispose()
    {
        ImageAdapter?.Dispose();
        Model.Dispose();
    }
}
