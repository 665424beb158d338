using System.ComponentModel.DataAnnotations;
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
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    public const string Kind = "judge";
    private readonly ILogger _logger = loggers.CreateLogger<JudgeEngines>();
    private readonly Dictionary<string, JudgeRunner> _runners = new(StringComparer.Ordinal);

    public bool Loaded { get; private set; }

    public IReadOnlyDictionary<string, JudgeRunner> Runners => _runners;

    /// <summary>Names this worker serves, with their registry entries, chosen from configuration alone.</summary>
    public static IReadOnlyList<(string Name, ModelEntry Entry)> Served(IReadOnlyDictionary<string, ModelEntry> registry, JudgeOptions options)
    {
        if (options.Models.Length == 0)
            return registry.Where(kv => string.Equals(kv.Value.Kind, Kind, StringComparison.OrdinalIgnoreCase))
                .Select(kv => (kv.Key, kv.Value)).OrderBy(x => x.Key, StringComparer.Ordinal).ToList();
        return options.Models.Select(n => registry.TryGetValue(n, out var e)
            ? (n, e)
            : throw new InvalidOperationException($"Judge:Models names '{n}', which is not in the Models registry.")).ToList();
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var served = Served(registry, options.Value);
        if (served.Count == 0)
            throw new InvalidOperationException("Judge has no model to serve: add an entry with Kind \"judge\" under Models (Models:{name}:Path).");
        foreach (var (name, entry) in served)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateObject(entry.Engine, new ValidationContext(entry.Engine), results, validateAllProperties: true))
                throw new OptionsValidationException($"Models:{name}:Engine", typeof(EngineOptions), results.Select(r => $"Models:{name}:Engine: {r.ErrorMessage}"));
            var folder = ModelPathResolver.Resolve(name, entry.Path, environment.ContentRootPath);
            _logger.LogInformation("Loading judge model {Model} from {Folder} on {Device}", name, folder, entry.Engine.Device);
            var engine = TextEngine.Load(name, folder, entry.Engine, loggers.CreateLogger($"TextEngine.{name}"));
            _runners[name] = new JudgeRunner(engine, options.Value.MaxTokens);
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
