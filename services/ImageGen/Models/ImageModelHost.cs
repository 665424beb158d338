using Microsoft.Extensions.Options;
using Platform.Multimodal.Imaging;
using Platform.Multimodal.Serving;
using Platform.ServiceDefaults.Models;

namespace ImageGen.Models;

/// <summary>
/// Loads the multimodal parts of every served model when the host starts (registered before the bus, so before any
/// message is consumed) and disposes them at the end. A missing folder or file stops the start with a message that
/// names the model and the path.
/// </summary>
public sealed class ImageModelHost(
    IReadOnlyDictionary<string, MultimodalModelEntry> registry,
    IOptions<ImageGenOptions> options,
    IHostEnvironment environment,
    ILogger<ImageModelHost> logger) : IHostedService, IDisposable
{
    private readonly Dictionary<string, MultimodalModels> _models = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ImageBatcher> _batchers = new(StringComparer.Ordinal);
    // One forward at a time in this process: each already uses the cores through its intra-op threads.
    private readonly object _forwardGate = new();

    public bool Loaded { get; private set; }

    public IReadOnlyDictionary<string, MultimodalModels> Models => _models;

    /// <summary>Each served model's batch workers: what the consumers submit to.</summary>
    public IReadOnlyDictionary<string, ImageBatcher> Batchers => _batchers;

    /// <summary>Names this instance serves, chosen from configuration alone (the bus endpoints are built from it).</summary>
    public static IReadOnlyList<(string Name, MultimodalModelEntry Entry)> Served(
        IReadOnlyDictionary<string, MultimodalModelEntry> registry, ImageGenOptions options)
    {
        if (options.Models.Length == 0)
            return registry.Where(kv => kv.Value.Multimodal).Select(kv => (kv.Key, kv.Value))
                .OrderBy(x => x.Key, StringComparer.Ordinal).ToList();
        return options.Models.Select(n => registry.TryGetValue(n, out var e)
            ? (n, e)
            : throw new InvalidOperationException($"ImageGen:Models names '{n}', which is not in the Models registry.")).ToList();
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var limits = new ImageLimits { MaxBytes = o.MaxImageBytes, MaxPixels = o.MaxImagePixels };
        var batching = new ImageBatchOptions { MaxBatchSize = o.MaxBatchSize, Window = TimeSpan.FromMilliseconds(o.BatchWindowMilliseconds), Threads = o.Threads };
        var served = Served(registry, o);
        if (served.Count == 0) logger.LogInformation("ImageGen has no multimodal model to serve (no Models entry with Multimodal = true)");
        foreach (var (name, entry) in served)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var folder = ModelPathResolver.Resolve(name, entry.Path, environment.ContentRootPath);
            logger.LogInformation("Loading multimodal model {Model} from {Folder}, decoder on {Device}", name, folder, o.DecoderDevice);
            var models = _models[name] = MultimodalModels.Load(folder, o.DecoderDevice, limits, o.Threads);
            _batchers[name] = new ImageBatcher(name, models, batching, _forwardGate);
        }
        Loaded = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var b in _batchers.Values) b.Dispose();
        _batchers.Clear();
        foreach (var m in _models.Values) m.Dispose();
        _models.Clear();
    }
}
