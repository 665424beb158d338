using Platform.Contracts.Images;

namespace Platform.Contracts.Chat;

/// <summary>One chat message as the text worker sees it: a role and its text content. <see cref="Images"/> (for
/// multimodal models) holds one entry per "&lt;image&gt;" placeholder in <see cref="Content"/>, in order.
/// <see cref="ToolCalls"/>: an assistant turn's function calls; <see cref="ToolCallId"/>: the call a "tool" turn answers.</summary>
public sealed record ChatTurn(string Role, string Content, IReadOnlyList<VisualTokens>? Images = null,
    IReadOnlyList<ChatToolCall>? ToolCalls = null, string? ToolCallId = null);
