namespace Platform.Judging;

/// <summary>The conversation being judged as Auto-J's single <c>{prompt}</c> text.</summary>
public static class JudgeQuery
{
    /// <summary>
    /// One user message (with or without a system message) is its content as written, which is what Auto-J was trained
    /// on; a longer conversation is written turn by turn ("User: ...", "Assistant: ...", "System: ...").
    /// </summary>
    public static string Render(IReadOnlyList<(string Role, string Content)> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("the conversation being judged is empty");
        var nonSystem = messages.Where(m => m.Role != "system").ToList();
        if (nonSystem.Count == 1 && nonSystem[0].Role == "user" && messages.Count <= 2) return nonSystem[0].Content;
        return string.Join("\n", messages.Select(m => $"{Title(m.Role)}: {m.Content}"));
    }

    private static string Title(string role) => role.Length == 0 ? role : char.ToUpperInvariant(role[0]) + role[1..];
}
