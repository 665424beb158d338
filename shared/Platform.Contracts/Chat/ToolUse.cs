namespace Platform.Contracts.Chat;

/// <summary>
/// The request's functions and OpenAI's <c>tool_choice</c>: <see cref="Choice"/> is one of <see cref="Auto"/>,
/// <see cref="None"/>, <see cref="Required"/> or <see cref="Function"/> (then <see cref="FunctionName"/> names it);
/// <see cref="ParallelCalls"/> is <c>parallel_tool_calls</c>.
/// </summary>
public sealed record ToolUse(IReadOnlyList<ChatTool> Tools, string Choice, string? FunctionName, bool ParallelCalls)
{
    public const string Auto = "auto";
    public const string None = "none";
    public const string Required = "required";
    public const string Function = "function";
}
