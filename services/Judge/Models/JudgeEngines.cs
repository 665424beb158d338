using Microsoft.Extensions.Options;
using Platform.Contracts.Judge;
using Platform.Contracts.Models;
using Platform.Inference.Engine;
using Platform.Judging;
using Platform.ServiceDefaults.Models;
using TextLlm.Models;

namespace Judge.Models;

/// <summary>
/// Loads every judge model's engine (registry entries of Kind "judge") when the host starts, before the bus consumes,
/// and disposes them when it stops. A missing folder or a bad model stops the start with a message naming both.
/// </summary>
public sealed class JudgeEngines(
    IReadOnlyDictionary<string, ModelEntry> registry,
    IOptions<JudgeOptions> options,
    IHostEnvironment environment,
    ILoggerFactory loggers) : IHostedService, IAnnouncedModels, IAsyncDisposable
{
    public const string Kind = "judge";
    private readonly Dictionary<string, JudgeRunner> _runners = new(StringComparer.Ordinal);

    public bool Loaded { get; private set; }

    public IReadOnlyDictionary<string, JudgeRunner> Runners => _runners;

    /// <summary>Names this worker serves, with their registry entries, chosen from configuration alone.</summary>
    public static IReadOnlyList<(string Name, ModelEntry Entry)> Served(IReadOnlyDictionary<string, ModelEntry> registry, JudgeOptions options) =>
        ModelRegistry.Served(registry, Kind, options.Models, JudgeOptions.Section);

    public string ServiceName => "judge";

    public string WorkerId { get; } = options.Value.ResolveInstanceId();

    public TimeSpan AnnounceInterval => TimeSpan.FromSeconds(options.Value.AnnounceIntervalSeconds);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var served = Served(registry, options.Value);
        if (served.Count == 0)
            throw new InvalidOperationException("Judge has no model to serve: add an entry with Kind \"judge\" under Models (Models:{name}:Path).");
        foreach (var (name, entry) in served)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _runners[name] = new JudgeRunner(ModelRegistry.Load(name, entry, environment.ContentRootPath, loggers), options.Value.MaxTokens);
        }
        Loaded = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public IReadOnlyList<ServedModel> Describe() =>
        Served(registry, options.Value)
            .Where(x => _runners.ContainsKey(x.Name))
            .Select(x => new ServedModel(x.Name, _runners[x.Name].Engine.MaxContextTokens, x.Entry.Engine.MaxConcurrentSequences,
                AcceptsImages: x.Entry.Multimodal, Capabilities: [JudgeQueues.Capability]))
            .ToList();

    public async ValueTask DisposeAsync()
    {
        foreach (var r in _runners.Values) await r.Engine.DisposeAsync();
        _runners.Clear();
    }
}
