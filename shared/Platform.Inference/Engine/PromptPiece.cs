namespace Platform.Inference.Engine;

/// <summary>
/// One piece of a token-level prompt (<see cref="GenerationRequest.PromptPieces"/>): either a run of tokens read in
/// order, or a set (<see cref="Members"/>) of sub-sequences that Set-Based Prompting (McIlroy-Young et al., "Set-Based
/// Prompting: Provably Solving the Language Model Order Dependency Problem") places in parallel: every member starts
/// at the same position id, no member attends to another, and what follows continues at start + the longest member.
/// </summary>
public sealed record PromptPiece
{
    /// <summary>A run of tokens (null for a set).</summary>
    public IReadOnlyList<int>? Tokens { get; init; }

    /// <summary>The members of a set, in any order (the engine's output does not depend on it); null for a run.</summary>
    public IReadOnlyList<IReadOnlyList<int>>? Members { get; init; }

    public static PromptPiece Run(params int[] tokens) => new() { Tokens = tokens };

    public static PromptPiece Set(params IReadOnlyList<int>[] members) => new() { Members = members };
}

/// <summary>
/// The text form of a set in a prompt, for <see cref="GenerationRequest.SetMarkers"/>: the delimiters of the
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
