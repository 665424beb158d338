namespace Platform.Contracts.Chat;

/// <summary>One chat message as the text worker sees it: a role and its text content.</summary>
public sealed record ChatTurn(string Role, string Content);
