using Microsoft.Extensions.Options;
using Platform.Contracts.Models;
using Platform.Inference.Engine;
using Platform.ServiceDefaults.Models;

namespace TextLlm.Models;

/// <summary>
/// Loads every served model's engine when the host starts (before the bus starts consuming, because it is
/// registered first) and disposes them when it stops. A missing folder or a bad model stops the start with a
/// message that names the model and the path.
/// </summary>
public sealed class EngineHost(
    IReadOnlyDictionary<string, ModelEntry> registry,
    IOptions<TextLlmOptions> options,
    IHostEnvironment environment,
    ILoggerFactory loggers) : IHostedService, IAnnouncedModels, IAsyncDisposable
{
    private readonly Dictionary<string, ITextEngine> _engines = new(StringComparer.Ordinal);

    public bool Loaded { get; private set; }

    public IReadOnlyDictionary<string, ITextEngine> Engines => _engines;

    /// <summary>Names this worker serves, with their registry entries, chosen from configuration alone.</summary>
    public static IReadOnlyList<(string Name, ModelEntry Entry)> Served(IReadOnlyDictionary<string, ModelEntry> registry, TextLlmOptions options) =>
        ModelRegistry.Served(registry, "text", options.Models, TextLlmOptions.Section);

    public string ServiceName => "text-llm";

    public string WorkerId { get; } = options.Value.ResolveInstanceId();

    public TimeSpan AnnounceInterval => TimeSpan.FromSeconds(options.Value.AnnounceIntervalSeconds);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var served = Served(registry, options.Value);
        if (served.Count == 0)
            throw new InvalidOperationException("TextLlm has no model to serve: add an entry under Models (Models:{name}:Path).");
        foreach (var (name, entry) in served)
        {
            cancellationToken.ThrowIfCancellationRequested();
            EmbeddingPoolings.Parse(name, entry.Pooling);
            _engines[name] = ModelRegistry.Load(name, entry, environment.ContentRootPath, loggers);
        }
        Loaded = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public IReadOnlyList<ServedModel> Describe() =>
        Served(registry, options.Value)
            .Where(x => _engines.ContainsKey(x.Name))
            .Select(x => new ServedModel(x.Name, _engines[x.Name].MaxContextTokens, x.Entry.Engine.MaxConcurrentSequences, AcceptsImages: x.Entry.Multimodal))
            .ToList();

    public async ValueTask DisposeAsync()
    {
        foreach (var engine in _engines.Values) await engine.DisposeAsync();
        _engines.Clear();
    }
}
