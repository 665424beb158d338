namespace Platform.Contracts.Chat;

/// <summary>
/// The text form of a set in a prompt, for the workers' set-marked prompts: the delimiters of the
/// reference implementation (reidmcy/set-based-prompting: "A &lt;|start_2d|&gt;B&lt;|split_2d|&gt;C&lt;|end_2d|&gt;D").
/// </summary>
public static class SetMarkers
{
    public const string Start = "<|start_2d|>";
    public const string Split = "<|split_2d|>";
    public const string End = "<|end_2d|>";

    /// <summary>True when <paramref name="text"/> contains any of the three markers (callers reject them in user text).</summary>
    public static bool ContainsAny(string text) =>
        text.Contains(Start, StringComparison.Ordinal) || text.Contains(Split, StringComparison.Ordinal) || text.Contains(End, StringComparison.Ordinal);

    /// <summary>Wraps members as one set in text form.</summary>
    public static string Wrap(IEnumerable<string> members) => Start + string.Join(Split, members) + End;
}
