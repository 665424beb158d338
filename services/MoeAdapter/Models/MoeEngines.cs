using Microsoft.Extensions.Options;
using Platform.Contracts.Models;
using Platform.Contracts.Moe;
using Platform.Multimodal.MoeAdapter.Training;
using Platform.ServiceDefaults.Models;
using TextLlm.Models;

namespace MoeAdapter.Models;

/// <summary>
/// Loads every MoE model of the registry (entries of Kind "moe") when the host starts, before the bus consumes, and
/// disposes them when it stops. A folder with an image adapter (image_adapter_config.json) is an image-token model: its
/// VQ decoder (vq_decoder.onnx) is loaded beside it and must match the adapter's grid and codebook. A folder without
/// one is served text-only, with a log line that says so. A model that is not a mixture of experts stops the start.
/// </summary>
public sealed class MoeEngines(
    IReadOnlyDictionary<string, ModelEntry> registry,
    IOptions<MoeAdapterOptions> options,
    IHostEnvironment environment,
    ILoggerFactory loggers) : IHostedService, IAnnouncedModels, IAsyncDisposable
{
    public const string Kind = "moe";
    private readonly Dictionary<string, MoeModel> _models = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<MoeEngines>();

    public bool Loaded { get; private set; }

    public IReadOnlyDictionary<string, MoeModel> Models => _models;

    /// <summary>Names this worker serves, with their registry entries, chosen from configuration alone.</summary>
    public static IReadOnlyList<(string Name, ModelEntry Entry)> Served(IReadOnlyDictionary<string, ModelEntry> registry, MoeAdapterOptions options) =>
        ModelRegistry.Served(registry, Kind, options.Models, MoeAdapterOptions.Section);

    public string ServiceName => "moe-adapter";

    public string WorkerId { get; } = options.Value.ResolveInstanceId();

    public TimeSpan AnnounceInterval => TimeSpan.FromSeconds(options.Value.AnnounceIntervalSeconds);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var served = Served(registry, options.Value);
        if (served.Count == 0)
            throw new InvalidOperationException("MoeAdapter has no model to serve: add an entry with Kind \"moe\" under Models (Models:{name}:Path).");
        foreach (var (name, entry) in served)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (entry.Multimodal)
                throw new InvalidOperationException($"Models:{name}: an image-token model reads no image input; remove Multimodal (it is for GILL models).");
            var engine = ModelRegistry.Load(name, entry, environment.ContentRootPath, loggers);
            try
            {
                _models[name] = Open(name, engine);
            }
            catch
            {
                engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw;
            }
        }
        Loaded = true;
        return Task.CompletedTask;
    }

    private MoeModel Open(string name, Platform.Inference.Engine.TextEngine engine)
    {
        var model = engine.Model;
        if (model.Routing is null)
            throw new InvalidOperationException($"Models:{name}: {model.Folder} is not a mixture-of-experts model ({model.Config.GetType().Name}); serve it with TextLlm (Kind \"text\").");
        if (model.ImageVocabulary is not { } vocabulary)
        {
            _logger.LogWarning("Model {Model} ({Folder}) has no image adapter (image_adapter_config.json): serving it text-only, without pictures", name, model.Folder);
            return new MoeModel(name, engine, null);
        }
        var decoder = PictureDecoder.Open(Path.Combine(model.Folder, MoeModelFiles.VqDecoderOnnx), vocabulary.CodebookSize, vocabulary.CodesPerImage);
        _logger.LogInformation("Model {Model} draws {Grid}x{Grid} pictures ({Codes} codes of {Codebook}) decoded by {Decoder}",
            name, decoder.GridSize, decoder.GridSize, vocabulary.CodesPerImage, vocabulary.CodebookSize, MoeModelFiles.VqDecoderOnnx);
        return new MoeModel(name, engine, decoder);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public IReadOnlyList<ServedModel> Describe() =>
        Served(registry, options.Value)
            .Where(x => _models.ContainsKey(x.Name))
            .Select(x => _models[x.Name])
            .Select(m => new ServedModel(m.Name, m.Engine.MaxContextTokens, registry[m.Name].Engine.MaxConcurrentSequences, AcceptsImages: false,
                Capabilities: m.DrawsPictures ? [ImageTokenQueues.Capability, ImageTokenQueues.RoutingCapability] : [ImageTokenQueues.RoutingCapability]))
            .ToList();

    public async ValueTask DisposeAsync()
    {
        foreach (var m in _models.Values)
        {
            await m.Engine.DisposeAsync();
            m.Pictures?.Dispose();
        }
        _models.Clear();
    }
}
