namespace Platform.Inference.Chat;

/// <summary>A function the model may call: its name, description and JSON schema of its arguments (null: no arguments).</summary>
public sealed record ToolDefinition(string Name, string? Description, string? ParametersJson);

/// <summary>A call the model made (or made earlier, in the history): its id, function name and arguments as JSON text.</summary>
public sealed record ToolCall(string Id, string Name, string ArgumentsJson);
