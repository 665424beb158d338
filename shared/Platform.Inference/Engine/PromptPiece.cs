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
