using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Batch.Processing;
using Platform.Batch.Storage;

namespace Platform.Batch.Batches;

/// <summary>One validation error, OpenAI's shape in batch.errors.data: {code, message, param, line}.</summary>
public sealed record BatchValidationError(string Code, string Message, string? Param, long? Line);

/// <summary>
/// Reads a batch input file (JSONL): every non-blank line must be a JSON object with a unique string custom_id,
/// method POST, url equal to the batch endpoint and a body the endpoint accepts. Any error fails the whole batch.
/// </summary>
public sealed class BatchInputValidator(IBatchEndpointHandler handler, int maxRequests)
{
    /// <summary>OpenAI reports a bounded list; more errors than this are summarized by the count.</summary>
    public const int MaxReportedErrors = 100;

    public (IReadOnlyList<BatchItem> Items, IReadOnlyList<BatchValidationError> Errors) Validate(string batchId, ReadOnlySpan<byte> content)
    {
        var items = new List<BatchItem>();
        var errors = new List<BatchValidationError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long lineNumber = 0;
        var rest = content;
        if (rest.StartsWith("\uFEFF"u8)) rest = rest[3..];
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 1)..];
            lineNumber++;
            if (line.EndsWith("\r"u8)) line = line[..^1];
            if (line.Trim(" \t"u8).IsEmpty) continue;

            var error = ValidateLine(batchId, line, lineNumber, seen, out var item);
            if (error is not null) errors.Add(error);
            else items.Add(item!);
            if (items.Count > maxRequests)
            {
                errors.Add(new BatchValidationError("too_many_requests",
                    $"The input file has more than the maximum of {maxRequests} requests.", null, lineNumber));
                break;
            }
        }
        if (items.Count == 0 && errors.Count == 0)
            errors.Add(new BatchValidationError("empty_file", "The input file contains no requests.", null, null));
        if (errors.Count > MaxReportedErrors)
        {
            var total = errors.Count;
            errors = errors.Take(MaxReportedErrors).ToList();
            errors.Add(new BatchValidationError("too_many_errors",
                $"{total} lines failed validation; only the first {MaxReportedErrors} are listed.", null, null));
        }
        return (items, errors);
    }

    private BatchValidationError? ValidateLine(string batchId, ReadOnlySpan<byte> line, long lineNumber, HashSet<string> seen,
        out BatchItem? item)
    {
        item = null;
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(line);
            document = JsonDocument.ParseValue(ref reader);
            // ParseValue stops after the first value: trailing text means the line is not one JSON document.
            if (reader.BytesConsumed != line.Length && !line[(int)reader.BytesConsumed..].Trim(" \t"u8).IsEmpty)
                throw new JsonException("Trailing content after the JSON value.");
        }
        catch (JsonException)
        {
            return new BatchValidationError("invalid_json_line", "This line is not parseable as valid JSON.", null, lineNumber);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return new BatchValidationError("invalid_json_line", "This line is not a JSON object.", null, lineNumber);
            // Lone surrogates anywhere (no encoder writes them back out); NUL in the fields the store keeps as text.
            // The body is stored as its raw JSON, where a NUL stays an escape, and the endpoint validates it.
            if (UnsafeText.Find(root, nul: false) is { } unsafeText)
                return new BatchValidationError("invalid_value", $"'{unsafeText.Path}' holds {unsafeText.Problem}, which is not accepted.",
                    UnsafeText.TopLevel(unsafeText.Path), lineNumber);
            foreach (var field in (string[])["custom_id", "method", "url"])
                if (root.TryGetProperty(field, out var text) && text.ValueKind == JsonValueKind.String && UnsafeText.Problem(text.GetString()) is { } nul)
                    return new BatchValidationError("invalid_value", $"'{field}' holds {nul}, which is not accepted.", field, lineNumber);

            if (!root.TryGetProperty("custom_id", out var customIdElement) || customIdElement.ValueKind == JsonValueKind.Null)
                return new BatchValidationError("missing_required_parameter",
                    "Missing required parameter: 'custom_id'.", "custom_id", lineNumber);
            if (customIdElement.ValueKind != JsonValueKind.String || customIdElement.GetString() is not { Length: > 0 } customId)
                return new BatchValidationError("invalid_custom_id",
                    "The custom_id must be a non-empty string.", "custom_id", lineNumber);
            if (!seen.Add(customId))
                return new BatchValidationError("duplicate_custom_id",
                    "The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.",
                    "custom_id", lineNumber);

            if (!root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
                return new BatchValidationError("missing_required_parameter", "Missing required parameter: 'method'.", "method", lineNumber);
            if (!string.Equals(method.GetString(), "POST", StringComparison.OrdinalIgnoreCase))
                return new BatchValidationError("invalid_method",
                    $"The method '{method.GetString()}' is not supported. Only POST is supported.", "method", lineNumber);

            if (!root.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String)
                return new BatchValidationError("missing_required_parameter", "Missing required parameter: 'url'.", "url", lineNumber);
            if (url.GetString() != handler.Endpoint)
                return new BatchValidationError("mismatched_endpoint",
                    $"The url '{url.GetString()}' does not match the batch endpoint '{handler.Endpoint}'.", "url", lineNumber);

            if (!root.TryGetProperty("body", out var body) || body.ValueKind != JsonValueKind.Object)
                return new BatchValidationError("missing_required_parameter",
                    "Missing required parameter: 'body' (a JSON object).", "body", lineNumber);
            if (handler.Validate(body) is { } bodyError)
                return new BatchValidationError("invalid_request", bodyError.Message,
                    bodyError.Param is null ? "body" : "body." + bodyError.Param, lineNumber);

            item = new BatchItem { BatchId = batchId, CustomId = customId, LineNumber = lineNumber, Body = body.GetRawText() };
            return null;
        }
    }

    public static string ToJson(IReadOnlyList<BatchValidationError> errors) =>
        new JsonArray(errors.Select(e => (JsonNode?)new JsonObject
        {
            ["code"] = e.Code, ["message"] = e.Message, ["param"] = e.Param, ["line"] = e.Line,
        }).ToArray()).ToJsonString();
}
