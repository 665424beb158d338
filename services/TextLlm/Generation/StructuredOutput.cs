using System.Text.Json;
using Platform.Contracts.Chat;
using Platform.Inference.Chat;
using Platform.Inference.Constraints;

namespace TextLlm.Generation;

/// <summary>
/// Compiles a request's response_format and tools into the grammar the engine decodes under (constrained decoding)
/// and the tool-call format to read calls back with. A schema the decoder cannot enforce is an error naming the
/// request field and the keyword.
/// </summary>
public static class StructuredOutput
{
    public sealed record Plan(Grammar? Grammar, ToolCallFormat? ToolFormat, IReadOnlyList<ToolDefinition>? Tools);

    /// <exception cref="StructuredOutputException">The message names the field (<see cref="StructuredOutputException.Param"/>) and the unsupported part.</exception>
    public static Plan Build(ResponseFormat? format, ToolUse? tools, ChatTemplate template)
    {
        Grammar? grammar = null;
        ToolCallFormat? toolFormat = null;
        IReadOnlyList<ToolDefinition>? definitions = null;
        if (format is { Type: ResponseFormat.JsonObject }) grammar = Grammar.JsonObject();
        else if (format is { Type: ResponseFormat.JsonSchema })
            grammar = Grammar.Json(Compile(format.SchemaJson ?? "{}", "response_format.json_schema.schema"));
        else if (format is not null && format.Type != "text")
            throw new StructuredOutputException($"response_format type '{format.Type}' is not supported", "response_format.type");

        if (tools is { Tools.Count: > 0 })
        {
            definitions = tools.Tools.Select(t => new ToolDefinition(t.Name, t.Description, t.ParametersJson)).ToList();
            if (tools.Choice != ToolUse.None)
            {
                if (grammar is not null)
                    throw new StructuredOutputException("response_format json_object/json_schema together with tools (tool_choice other than 'none') is not supported",
                        "response_format");
                toolFormat = ToolCallFormat.For(template);
                var offered = tools.Choice == ToolUse.Function ? tools.Tools.Where(t => t.Name == tools.FunctionName).ToList() : tools.Tools.ToList();
                if (offered.Count == 0)
                    throw new StructuredOutputException($"tool_choice names the function '{tools.FunctionName}', which is not in tools", "tool_choice");
                var functions = offered.Select(t => (t.Name, Arguments(t, tools.Tools.ToList().IndexOf(t)))).ToList();
                int max = tools.ParallelCalls && tools.Choice != ToolUse.Function ? toolFormat.MaxCalls : 1;
                grammar = toolFormat.BuildGrammar(functions, max, optional: tools.Choice == ToolUse.Auto);
            }
        }
        return new Plan(grammar, toolFormat, definitions);
    }

    /// <summary>
    /// A function's arguments: by its schema when the decoder can enforce it; a non-strict function whose schema it
    /// cannot enforce still gets a well-formed JSON object (OpenAI does not guarantee those either), a strict one is refused.
    /// </summary>
    private static JsonSchemaNode Arguments(ChatTool tool, int index)
    {
        var field = $"tools[{index}].function.parameters";
        if (tool.ParametersJson is null) return JsonSchemaNode.AnyObject();
        if (tool.Strict) return Compile(tool.ParametersJson, field);
        try { return Compile(tool.ParametersJson, field); }
        catch (StructuredOutputException) { return JsonSchemaNode.AnyObject(); }
    }

    private static JsonSchemaNode Compile(string schemaJson, string field)
    {
        try
        {
            return JsonSchemaCompiler.Compile(schemaJson);
        }
        catch (UnsupportedSchemaException ex)
        {
            throw new StructuredOutputException($"Invalid schema in '{field}': {ex.Message}; constrained decoding cannot enforce it.", field);
        }
        catch (JsonException ex)
        {
            throw new StructuredOutputException($"Invalid schema in '{field}': it is not valid JSON ({ex.Message}).", field);
        }
    }
}

/// <summary>A response_format or tools the worker cannot serve; <see cref="Param"/> is the request field at fault.</summary>
public sealed class StructuredOutputException(string message, string param) : Exception(message)
{
    public string Param { get; } = param;
}
