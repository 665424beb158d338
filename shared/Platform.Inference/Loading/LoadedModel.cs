using Platform.Inference.Chat;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
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

    public static LoadedModel Load(string folder, string device = "cpu", string? chatTemplate = null) =>
        ModelLoader.Load(folder, device, chatTemplate);

    public void Dispose() => Model.Dispose();
}
