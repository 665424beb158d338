using System.Text.Json;

namespace Gateway.OpenAi;

public sealed record ResponseFormatDto
{
    public string? Type { get; init; }
    public JsonSchemaFormatDto? JsonSchema { get; init; }
}

public sealed record JsonSchemaFormatDto
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public JsonElement? Schema { get; init; }
    public bool? Strict { get; init; }
}

public sealed record ToolDto
{
    public string? Type { get; init; }
    public FunctionDto? Function { get; init; }
}

public sealed record FunctionDto
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public JsonElement? Parameters { get; init; }
    public bool? Strict { get; init; }
}

/// <summary>A tool call in a request's history or a response: {"id", "type": "function", "function": {"name", "arguments"}}.</summary>
public sealed record ToolCallDto
{
    public string? Id { get; init; }
    public string? Type { get; init; }
    public FunctionCallDto? Function { get; init; }
}

public sealed record FunctionCallDto
{
    public string? Name { get; init; }
    /// <summary>JSON text, as OpenAI sends it.</summary>
    public string? Arguments { get; init; }
}

/// <summary>A tool call in a response message (all fields written).</summary>
public sealed record ToolCallResponseDto(string Id, string Type, FunctionCallResponseDto Function);

public sealed record FunctionCallResponseDto(string Name, string Arguments);

/// <summary>A tool call in a stream delta: <see cref="Index"/> orders the calls of one choice.</summary>
public sealed record ToolCallDeltaDto(int Index, string Id, string Type, FunctionCallResponseDto Function);
