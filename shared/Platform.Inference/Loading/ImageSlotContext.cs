using System.Text.Json;
using Platform.Inference.Engine;

namespace Platform.Inference.Loading;

/// <summary>
/// How many words before a GILL picture's [IMG] tokens the engine reports with the slot: <c>mapper_context</c> of the
/// folder's multimodal_config.json (the image mapper reads those words' states beside the [IMG] tokens'); 0 when
/// the folder has no such file or field.
/// </summary>
public static class ImageSlotContext
{
    public const string ConfigFile = "multimodal_config.json";
    public const string Field = "mapper_context";

    /// <exception cref="ModelLoadException">The file is not JSON or the field is not a non-negative integer.</exception>
    public static int Read(string folder)
    {
        var path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path)) return 0;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (!doc.RootElement.TryGetProperty(Field, out var value)) return 0;
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var n) || n < 0)
                throw new ModelLoadException($"{path}: '{Field}' must be a non-negative integer");
            return n;
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{path}: invalid JSON: {e.Message}", e);
        }
    }
}
