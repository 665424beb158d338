using System.Text;
using System.Text.Json;
using Platform.Batch;
using Platform.Batch.Storage;

namespace Gateway.Security;

/// <summary>The models a batch input file's lines ask for, checked against a key's allow-list when the batch is created.</summary>
public static class BatchModels
{
    /// <summary>The first line (1-based) whose body names a model the caller may not use; null when there is none.
    /// A file that is missing or another tenant's is left to the Batch API, which answers 404 for it.</summary>
    public static async Task<(string Model, int Line)?> FirstForbiddenAsync(HttpContext http, string fileId, string tenant, Caller caller)
    {
        // Only what can be a file id reaches the store (the Batch API's own rule: ASCII letters, digits, '-', '_').
        if (fileId is not { Length: > 0 and <= 100 } || !fileId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return null;
        var store = http.RequestServices.GetRequiredService<IBatchStore>();
        if (await store.GetFileContentAsync(fileId, http.RequestAborted, tenant) is not { } content) return null;
        using var reader = new StreamReader(new MemoryStream(content), Encoding.UTF8);
        var line = 0;
        while (await reader.ReadLineAsync(http.RequestAborted) is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                using var document = JsonDocument.Parse(text);
                if (document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("body", out var body) && body.ValueKind == JsonValueKind.Object
                    && body.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String
                    && UnsafeText.TryGetString(model, out var name, out _) && !caller.MayUse(name))
                    return (name, line);
            }
            catch (JsonException)
            {
                // A malformed line is the batch validator's to report.
            }
            catch (InvalidOperationException)
            {
                // Text that is not valid Unicode: also the validator's.
            }
        }
        return null;
    }
}
