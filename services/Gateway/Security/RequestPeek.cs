using System.Text.Json;
using Gateway.Validation;
using Microsoft.AspNetCore.Http.Features;
using Platform.Batch;

namespace Gateway.Security;

/// <summary>
/// A look at a JSON request body before its endpoint reads it: the model (for the key's allow-list), an estimate of
/// the tokens it may use (for tokens-per-minute), and the limits every endpoint shares (messages, tools, schema size).
/// The body is buffered and rewound, so the endpoint reads the same bytes; a body that does not parse is left to the
/// endpoint, which answers its own 400.
/// </summary>
public sealed record RequestPeek(string? Model, int EstimatedTokens, string? InputFileId = null)
{
    /// <summary>Reads the body of a POST that is not multipart (file uploads have their own limit and no model).</summary>
    public static async Task<(RequestPeek? Peek, ApiError? Error)> ReadAsync(HttpContext http, int maxBodyBytes, SecurityOptions limits)
    {
        var request = http.Request;
        if (!HttpMethods.IsPost(request.Method) || request.HasFormContentType) return (null, null);
        var tooLarge = new ApiError(StatusCodes.Status413RequestEntityTooLarge,
            $"The request body is larger than the limit of {maxBodyBytes} bytes.", ApiError.InvalidRequest, null, "request_too_large");
        if (request.ContentLength > maxBodyBytes) return (null, tooLarge);
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = maxBodyBytes;
        request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: maxBodyBytes);
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, http.RequestAborted);
        }
        catch (JsonException)
        {
            request.Body.Position = 0;
            return (null, null);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413RequestEntityTooLarge)
        {
            return (null, tooLarge);
        }
        catch (IOException)
        {
            // The buffer's limit (a body without Content-Length that grew past it), or a client that went away.
            return (null, tooLarge);
        }
        request.Body.Position = 0;
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return (null, null);
            // Text no UTF-8 encoder can write (a lone surrogate escape, or bytes that are not UTF-8) makes
            // System.Text.Json throw InvalidOperationException wherever it is read: refuse it here for every endpoint.
            if (UnsafeText.Find(root, nul: false) is { } bad)
                return (null, ApiError.Invalid($"'{bad.Path}' holds {bad.Problem} or bytes that are not UTF-8, which are not accepted.",
                    UnsafeText.TopLevel(bad.Path), "invalid_value"));
            try
            {
                if (CheckLimits(root, limits) is { } error) return (null, error);
                var model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                var inputFile = root.TryGetProperty("input_file_id", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
                return (new RequestPeek(model, EstimateTokens(root), inputFile), null);
            }
            catch (InvalidOperationException)
            {
                return (null, ApiError.Invalid("The request body holds text that is not valid Unicode.", null, "invalid_value"));
            }
        }
    }

    private static ApiError? CheckLimits(JsonElement root, SecurityOptions limits)
    {
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array
            && messages.GetArrayLength() > limits.MaxMessages)
            return TooLong("messages", messages.GetArrayLength(), limits.MaxMessages);
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            if (tools.GetArrayLength() > limits.MaxTools) return TooLong("tools", tools.GetArrayLength(), limits.MaxTools);
            if (TooBig("tools", tools, limits.MaxSchemaBytes) is { } e) return e;
        }
        if (root.TryGetProperty("response_format", out var format) && TooBig("response_format", format, limits.MaxSchemaBytes) is { } f)
            return f;
        return null;
    }

    /// <summary>OpenAI's answer to an over-long array: 400 array_above_max_length.</summary>
    private static ApiError TooLong(string param, int count, int max) => ApiError.Invalid(
        $"Invalid '{param}': array too long. Expected an array with maximum length {max}, but got an array with length {count} instead.",
        param, "array_above_max_length");

    private static ApiError? TooBig(string param, JsonElement value, int maxBytes)
    {
        var bytes = value.GetRawText().Length;
        return bytes > maxBytes
            ? ApiError.Invalid($"Invalid '{param}': {bytes} bytes of JSON, more than the limit of {maxBytes}.", param, "schema_too_large")
            : null;
    }

    /// <summary>
    /// Tokens a request may use, estimated before it runs as OpenAI's limiter does: the prompt's text at ~4 characters
    /// a token (text of messages, prompt or input; image data URLs left out) plus the completion tokens asked for
    /// (max_completion_tokens or max_tokens, times n). At least 1.
    /// </summary>
    private static int EstimateTokens(JsonElement root)
    {
        long chars = 0;
        foreach (var name in new[] { "messages", "prompt", "input" })
            if (root.TryGetProperty(name, out var part)) chars += TextLength(part, 0);
        long completion = 0;
        foreach (var name in new[] { "max_completion_tokens", "max_tokens" })
            if (root.TryGetProperty(name, out var mt) && mt.ValueKind == JsonValueKind.Number && mt.TryGetInt64(out var v) && v > 0)
            {
                completion = v;
                break;
            }
        if (root.TryGetProperty("n", out var n) && n.ValueKind == JsonValueKind.Number && n.TryGetInt64(out var choices) && choices > 1)
            completion *= Math.Min(choices, 1024);
        return (int)Math.Clamp((chars + 3) / 4 + completion, 1, int.MaxValue);
    }

    private static long TextLength(JsonElement e, int depth)
    {
        if (depth > 16) return 0;
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                var s = e.GetString()!;
                return s.StartsWith("data:", StringComparison.OrdinalIgnoreCase) ? 0 : s.Length;
            case JsonValueKind.Array:
                long a = 0;
                foreach (var item in e.EnumerateArray()) a += TextLength(item, depth + 1);
                return a;
            case JsonValueKind.Object:
                long o = 0;
                foreach (var p in e.EnumerateObject()) o += TextLength(p.Value, depth + 1);
                return o;
            default:
                return 0;
        }
    }
}
