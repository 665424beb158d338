using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Platform.Inference.Engine;
using Platform.ServiceDefaults.Models;

namespace TextLlm.Models;

/// <summary>The model registry (configuration section "Models") as every engine-running worker reads it.</summary>
public static class ModelRegistry
{
    /// <summary>
    /// Names a worker serves, with their entries: the ones its options name (each must be in the registry), or with
    /// none named every entry of the worker's kind, in name order.
    /// </summary>
    public static IReadOnlyList<(string Name, ModelEntry Entry)> Served(
        IReadOnlyDictionary<string, ModelEntry> registry, string kind, IReadOnlyList<string> named, string optionsSection)
    {
        if (named.Count == 0)
            return registry.Where(kv => string.Equals(kv.Value.Kind, kind, StringComparison.OrdinalIgnoreCase))
                .Select(kv => (kv.Key, kv.Value)).OrderBy(x => x.Key, StringComparer.Ordinal).ToList();
        return named.Select(n => registry.TryGetValue(n, out var e)
            ? (n, e)
            : throw new InvalidOperationException($"{optionsSection}:Models names '{n}', which is not in the Models registry.")).ToList();
    }

    /// <summary>Validates the entry's engine options and loads its folder; errors name the model and the path.</summary>
    public static TextEngine Load(string name, ModelEntry entry, string contentRoot, ILoggerFactory loggers)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(entry.Engine, new ValidationContext(entry.Engine), results, validateAllProperties: true))
            throw new OptionsValidationException($"Models:{name}:Engine", typeof(EngineOptions),
                results.Select(r => $"Models:{name}:Engine: {r.ErrorMessage}"));
        var folder = ModelPathResolver.Resolve(name, entry.Path, contentRoot);
        loggers.CreateLogger(typeof(ModelRegistry)).LogInformation("Loading model {Model} ({Kind}) from {Folder} on {Device}", name, entry.Kind, folder, entry.Engine.Device);
        return TextEngine.Load(name, folder, entry.Engine, loggers.CreateLogger($"TextEngine.{name}"));
    }
}
