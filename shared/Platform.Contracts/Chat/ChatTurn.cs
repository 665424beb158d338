using Platform.Contracts.Images;

namespace Platform.Contracts.Chat;

/// <summary>One chat message as the text worker sees it: a role and its text content. <see cref="Images"/> (for
/// multimodal models) holds one entry per "&lt;image&gt;" placeholder in <see cref="Content"/>, in order.</summary>
public sealed record ChatTurn(string Role, string Content, IReadOnlyList<VisualTokens>? Images = null);
