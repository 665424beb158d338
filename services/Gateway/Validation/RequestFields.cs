using System.Text.Json;

namespace Gateway.Validation;

/// <summary>
/// OpenAI answers a request field it does not recognise with a 400 that names it; so does the gateway, instead of
/// silently ignoring it (a client that asks for something it would not get must learn so). Known extensions are
/// named fields of the request records (ignore_eos, best_of, judge, the "set" of text parts); the names in
/// <see cref="HandledElsewhere"/> pass this check because structured output and tool calling read them.
/// </summary>
public static class RequestFields
{
    /// <summary>Structured output and tool calling fields: read by their own validation, not refused here.</summary>
    public static readonly IReadOnlySet<string> HandledElsewhere = new HashSet<string>(StringComparer.Ordinal)
    {
        "response_format", "tools", "tool_choice", "parallel_tool_calls",
    };

    /// <summary>For APIs without structured-output or tool fields (images, judge): nothing passes unchecked.</summary>
    public static readonly IReadOnlySet<string> None = new HashSet<string>();

    /// <summary>Message fields of tool calling (assistant tool_calls, tool results), read by its own validation.</summary>
    public static readonly IReadOnlySet<string> MessageFieldsHandledElsewhere = new HashSet<string>(StringComparer.Ordinal)
    {
        "tool_calls", "tool_call_id", "refusal",
    };

    /// <summary>OpenAI fields this platform does not implement (named so the error says so rather than "unknown").</summary>
    private static readonly IReadOnlySet<string> Unsupported = new HashSet<string>(StringComparer.Ordinal)
    {
        "store", "metadata", "modalities", "audio", "prediction", "reasoning_effort", "service_tier", "functions",
        "function_call", "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier",
    };

    /// <summary>The first unrecognised field as a 400 (code unknown_parameter or unsupported_parameter), or null.</summary>
    public static ApiError? Check(IReadOnlyDictionary<string, JsonElement>? unknown, string? prefix = null, IReadOnlySet<string>? passThrough = null)
    {
        if (unknown is null) return null;
        foreach (var name in unknown.Keys)
        {
            if ((passThrough ?? HandledElsewhere).Contains(name)) continue;
            var param = prefix is null ? name : $"{prefix}.{name}";
            return Unsupported.Contains(name)
                ? ApiError.Invalid($"The parameter '{param}' is not supported by this server.", param, "unsupported_parameter")
                : ApiError.Invalid($"Unrecognized request argument supplied: {param}", param, "unknown_parameter");
        }
        return null;
    }
}
