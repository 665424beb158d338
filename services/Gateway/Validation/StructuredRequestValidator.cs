using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.OpenAi;
using Platform.Contracts.Chat;

namespace Gateway.Validation;

/// <summary>
/// response_format, tools, tool_choice and parallel_tool_calls, checked as OpenAI checks them and mapped to what the
/// bus carries. The schemas themselves are compiled by the worker (constrained decoding), which rejects with a 400
/// naming the keyword it cannot enforce.
/// </summary>
public static partial class StructuredRequestValidator
{
    /// <summary>OpenAI's limits: 128 functions per request; names of 1-64 letters, digits, '_' or '-'.</summary>
    public const int MaxTools = 128;
    public const int MaxSchemaBytes = 64 * 1024;

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();

    public static (ResponseFormat? Format, ToolUse? Tools, ApiError? Error) Validate(ChatCompletionRequestDto dto)
    {
        var (format, formatError) = ValidateFormat(dto.ResponseFormat);
        if (formatError is not null) return (null, null, formatError);
        var (tools, toolsError) = ValidateTools(dto);
        return toolsError is not null ? (null, null, toolsError) : (format, tools, null);
    }

    private static (ResponseFormat?, ApiError?) ValidateFormat(ResponseFormatDto? rf)
    {
        if (rf is null) return (null, null);
        switch (rf.Type)
        {
            case null:
                return (null, ApiError.Invalid("Missing required parameter: 'response_format.type'.", "response_format.type", "missing_required_parameter"));
            case "text":
                return (null, null);
            case ResponseFormat.JsonObject:
                return (new ResponseFormat(ResponseFormat.JsonObject), null);
            case ResponseFormat.JsonSchema:
                var js = rf.JsonSchema;
                if (js is null)
                    return (null, ApiError.Invalid("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema", "missing_required_parameter"));
                if (js.Name is null)
                    return (null, ApiError.Invalid("Missing required parameter: 'response_format.json_schema.name'.", "response_format.json_schema.name", "missing_required_parameter"));
                if (!NamePattern().IsMatch(js.Name))
                    return (null, ApiError.Invalid($"Invalid 'response_format.json_schema.name': '{js.Name}'; it must be 1-64 letters, digits, underscores or dashes.",
                        "response_format.json_schema.name"));
                string schema = "{}";
                if (js.Schema is { } s)
                {
                    if (s.ValueKind is not (JsonValueKind.Object or JsonValueKind.True))
                        return (null, ApiError.Invalid("Invalid 'response_format.json_schema.schema': it must be a JSON object.", "response_format.json_schema.schema", "invalid_type"));
                    schema = s.GetRawText();
                    if (schema.Length > MaxSchemaBytes)
                        return (null, ApiError.Invalid($"Invalid 'response_format.json_schema.schema': larger than {MaxSchemaBytes} bytes.", "response_format.json_schema.schema"));
                }
                return (new ResponseFormat(ResponseFormat.JsonSchema, schema, js.Name, js.Strict ?? false), null);
            default:
                return (null, ApiError.Invalid($"Invalid value '{rf.Type}' for 'response_format.type'; supported values are text, json_object and json_schema.",
                    "response_format.type"));
        }
    }

    private static (ToolUse?, ApiError?) ValidateTools(ChatCompletionRequestDto dto)
    {
        var list = dto.Tools;
        if (list is null || list.Count == 0)
        {
            if (dto.ToolChoice is { ValueKind: not JsonValueKind.Null })
                return (null, ApiError.Invalid("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"));
            if (list is { Count: 0 })
                return (null, ApiError.Invalid("Invalid 'tools': empty array. Expected an array with minimum length 1.", "tools", "empty_array"));
            return (null, null);
        }
        if (list.Count > MaxTools)
            return (null, ApiError.Invalid($"Invalid 'tools': array too long; at most {MaxTools} tools are allowed.", "tools", "array_above_max_length"));
        var tools = new List<ChatTool>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            var at = $"tools[{i}]";
            var t = list[i];
            if (t is null) return (null, ApiError.Invalid($"{at} is null.", at, "invalid_type"));
            if (t.Type != "function")
                return (null, ApiError.Invalid($"Invalid value '{t.Type}' for '{at}.type'; supported values are: 'function'.", $"{at}.type"));
            var f = t.Function;
            if (f?.Name is null)
                return (null, ApiError.Invalid($"Missing required parameter: '{at}.function.name'.", $"{at}.function.name", "missing_required_parameter"));
            if (!NamePattern().IsMatch(f.Name))
                return (null, ApiError.Invalid($"Invalid '{at}.function.name': '{f.Name}'; it must be 1-64 letters, digits, underscores or dashes.", $"{at}.function.name"));
            if (tools.Any(x => x.Name == f.Name))
                return (null, ApiError.Invalid($"Invalid 'tools': the function name '{f.Name}' appears more than once.", $"{at}.function.name"));
            string? parameters = null;
            if (f.Parameters is { ValueKind: not JsonValueKind.Null } p)
            {
                if (p.ValueKind != JsonValueKind.Object)
                    return (null, ApiError.Invalid($"Invalid '{at}.function.parameters': it must be a JSON object.", $"{at}.function.parameters", "invalid_type"));
                parameters = p.GetRawText();
                if (parameters.Length > MaxSchemaBytes)
                    return (null, ApiError.Invalid($"Invalid '{at}.function.parameters': larger than {MaxSchemaBytes} bytes.", $"{at}.function.parameters"));
            }
            tools.Add(new ChatTool(f.Name, f.Description, parameters, f.Strict ?? false));
        }

        string choice = ToolUse.Auto;
        string? function = null;
        if (dto.ToolChoice is { ValueKind: not JsonValueKind.Null } tc)
        {
            if (tc.ValueKind == JsonValueKind.String)
            {
                choice = tc.GetString()!;
                if (choice is not (ToolUse.Auto or ToolUse.None or ToolUse.Required))
                    return (null, ApiError.Invalid($"Invalid value '{choice}' for 'tool_choice'; supported values are none, auto, required or a named function.", "tool_choice"));
            }
            else if (tc.ValueKind == JsonValueKind.Object
                && tc.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "function"
                && tc.TryGetProperty("function", out var fn) && fn.ValueKind == JsonValueKind.Object
                && fn.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                choice = ToolUse.Function;
                function = name.GetString();
                if (!tools.Any(t => t.Name == function))
                    return (null, ApiError.Invalid($"Invalid 'tool_choice': the function '{function}' is not in 'tools'.", "tool_choice.function.name"));
            }
            else
                return (null, ApiError.Invalid("Invalid 'tool_choice': expected 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.", "tool_choice", "invalid_type"));
        }
        return (new ToolUse(tools, choice, function, dto.ParallelToolCalls ?? true), null);
    }

    /// <summary>An assistant turn's tool_calls in the history; null error when they are well formed.</summary>
    public static (List<ChatToolCall>? Calls, ApiError? Error) ValidateCalls(List<ToolCallDto>? calls, string at)
    {
        if (calls is null) return (null, null);
        var result = new List<ChatToolCall>(calls.Count);
        for (int j = 0; j < calls.Count; j++)
        {
            var c = calls[j];
            var cat = $"{at}.tool_calls[{j}]";
            if (c?.Id is not { Length: > 0 })
                return (null, ApiError.Invalid($"Missing required parameter: '{cat}.id'.", $"{cat}.id", "missing_required_parameter"));
            if (c.Type is not null and not "function")
                return (null, ApiError.Invalid($"Invalid value '{c.Type}' for '{cat}.type'; supported values are: 'function'.", $"{cat}.type"));
            if (c.Function?.Name is not { Length: > 0 })
                return (null, ApiError.Invalid($"Missing required parameter: '{cat}.function.name'.", $"{cat}.function.name", "missing_required_parameter"));
            if (c.Function.Arguments is null)
                return (null, ApiError.Invalid($"Missing required parameter: '{cat}.function.arguments'.", $"{cat}.function.arguments", "missing_required_parameter"));
            result.Add(new ChatToolCall(c.Id, c.Function.Name, c.Function.Arguments));
        }
        return (result, null);
    }
}
