using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Platform.Inference.Constraints;

namespace Platform.Inference.Chat;

/// <summary>
/// How a model family writes function calls, taken from the families' published chat templates and the parsers
/// that read them (vLLM's hermes, llama3_json and mistral tool parsers):
/// ChatML / Qwen2 ("hermes"): <c>&lt;tool_call&gt;\n{"name": ..., "arguments": {...}}\n&lt;/tool_call&gt;</c>, one per call, separated by a newline;
/// Llama 3.1 ("llama3_json"): a bare <c>{"name": ..., "parameters": {...}}</c>, one call;
/// Mistral: <c>[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]</c>.
/// <see cref="BuildGrammar"/> gives the grammar of that text for constrained decoding (the name chosen among the
/// offered functions, the arguments by each function's schema); <see cref="Parse"/> reads calls back out of a completion.
/// </summary>
public sealed class ToolCallFormat
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static readonly ToolCallFormat Hermes = new("hermes", "<tool_call>", "", "<tool_call>\n{\"name\": ", ", \"arguments\": ", "}\n</tool_call>", "\n", "", maxCalls: 16);
    public static readonly ToolCallFormat Llama3Json = new("llama3_json", "{\"name\": ", "", "{\"name\": ", ", \"parameters\": ", "}", "", "", maxCalls: 1);
    public static readonly ToolCallFormat Mistral = new("mistral", "[TOOL_CALLS]", "[TOOL_CALLS] [", "{\"name\": ", ", \"arguments\": ", "}", ", ", "]", maxCalls: 16);

    private readonly string _open, _namePrefix, _argumentsPrefix, _callSuffix, _separator, _close;

    private ToolCallFormat(string name, string trigger, string open, string namePrefix, string argumentsPrefix, string callSuffix,
        string separator, string close, int maxCalls)
    {
        Name = name;
        Trigger = trigger;
        _open = open;
        _namePrefix = namePrefix;
        _argumentsPrefix = argumentsPrefix;
        _callSuffix = callSuffix;
        _separator = separator;
        _close = close;
        MaxCalls = maxCalls;
    }

    public string Name { get; }
    /// <summary>The text a tool call starts with: under tool_choice "auto" an output that begins with it is a call.</summary>
    public string Trigger { get; }
    /// <summary>Calls one completion may hold (1: the family's template has no parallel calls).</summary>
    public int MaxCalls { get; }

    public static ToolCallFormat For(ChatTemplate template) =>
        // A folder's own template: its family by its markers (the call format its model was trained on).
        (template.Name == "jinja" ? template.Jinja!.Family : template.Name) switch
        {
            "llama3" => Llama3Json,
            "mistral" => Mistral,
            _ => Hermes,
        };

    /// <summary>The text of calls in this format (assistant turns in the history, and what <see cref="BuildGrammar"/> accepts).</summary>
    public string Render(IReadOnlyList<ToolCall> calls) =>
        _open + string.Join(_separator, calls.Select(c =>
            _namePrefix + JsonSerializer.Serialize(c.Name, Json) + _argumentsPrefix + CompactArguments(c.ArgumentsJson) + _callSuffix)) + _close;

    /// <summary>
    /// The grammar of one to <paramref name="maxCalls"/> calls to the given functions (each with the schema of its
    /// arguments). With <paramref name="optional"/> (tool_choice "auto") the model may answer in free text instead:
    /// the grammar applies once the output starts with <see cref="Trigger"/>.
    /// </summary>
    public Grammar BuildGrammar(IReadOnlyList<(string Name, JsonSchemaNode Arguments)> functions, int maxCalls, bool optional)
    {
        if (functions.Count == 0) throw new ArgumentException("no functions to call");
        var call = Grammar.Choice(functions.Select(f =>
            (_namePrefix + JsonSerializer.Serialize(f.Name, Json) + _argumentsPrefix,
             Grammar.Sequence(Grammar.Json(f.Arguments), Grammar.Literal(_callSuffix)))).ToList());
        var max = Math.Max(1, Math.Min(maxCalls, MaxCalls));
        var calls = Grammar.Sequence(Grammar.Literal(_open), max == 1 ? call : Grammar.Repeat(call, _separator, 1, max), Grammar.Literal(_close));
        return optional ? Grammar.Trigger(Trigger, calls) : calls;
    }

    /// <summary>True when <paramref name="text"/> (leading whitespace aside) begins a call or could still become one.</summary>
    public bool MayStartCall(string text)
    {
        var t = text.TrimStart();
        return t.StartsWith(Trigger, StringComparison.Ordinal) || Trigger.StartsWith(t, StringComparison.Ordinal);
    }

    /// <summary>
    /// Reads the calls out of a completion: the text before them (null when none) and the calls, or null when the
    /// text holds no well-formed call in this format (then it is an ordinary answer).
    /// </summary>
    public (string? Content, List<(string Name, string Arguments)> Calls)? Parse(string text)
    {
        var calls = new List<(string, string)>();
        string? content = null;
        try
        {
            switch (Name)
            {
                case "hermes":
                {
                    int first = text.IndexOf("<tool_call>", StringComparison.Ordinal);
                    if (first < 0) return null;
                    foreach (Match m in Regex.Matches(text, @"<tool_call>\s*(.*?)\s*</tool_call>", RegexOptions.Singleline))
                        if (ReadCall(m.Groups[1].Value, "arguments") is { } c) calls.Add(c); else return null;
                    var before = text[..first].Trim();
                    content = before.Length == 0 ? null : before;
                    break;
                }
                case "llama3_json":
                {
                    if (!text.TrimStart().StartsWith('{')) return null;
                    if (ReadCall(text.Trim(), "parameters") is { } c) calls.Add(c); else return null;
                    break;
                }
                default:
                {
                    int at = text.IndexOf("[TOOL_CALLS]", StringComparison.Ordinal);
                    if (at < 0) return null;
                    var before = text[..at].Trim();
                    content = before.Length == 0 ? null : before;
                    using var doc = JsonDocument.Parse(text[(at + "[TOOL_CALLS]".Length)..]);
                    if (doc.RootElement.ValueKind != JsonValueKind.Array) return null;
                    foreach (var e in doc.RootElement.EnumerateArray())
                        if (ReadCall(e.GetRawText(), "arguments") is { } c) calls.Add(c); else return null;
                    break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return calls.Count == 0 ? null : (content, calls);
    }

    private static (string, string)? ReadCall(string json, string argumentsKey)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String) return null;
        if (!root.TryGetProperty(argumentsKey, out var args) && !root.TryGetProperty("arguments", out args)) return (name.GetString()!, "{}");
        // Some models write the arguments as a JSON string holding the object.
        var text = args.ValueKind == JsonValueKind.String ? args.GetString()! : args.GetRawText();
        return (name.GetString()!, CompactArguments(text));
    }

    /// <summary>Arguments re-serialized compactly (invalid JSON is kept as it is: it is the model's or the client's text).</summary>
    internal static string CompactArguments(string json)
    {
        try { return JsonNode.Parse(json)?.ToJsonString(Json) ?? "null"; }
        catch (JsonException) { return json; }
    }

    /// <summary>A function as the families' templates list it: {"type": "function", "function": {name, description, parameters}}.</summary>
    internal static string DescribeTool(ToolDefinition tool)
    {
        var function = new JsonObject { ["name"] = tool.Name };
        if (tool.Description is not null) function["description"] = tool.Description;
        if (tool.ParametersJson is not null)
        {
            try { function["parameters"] = JsonNode.Parse(tool.ParametersJson); }
            catch (JsonException) { function["parameters"] = tool.ParametersJson; }
        }
        return new JsonObject { ["type"] = "function", ["function"] = function }.ToJsonString(Json);
    }
}
