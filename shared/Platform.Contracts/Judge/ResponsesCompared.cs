namespace Platform.Contracts.Judge;

/// <summary>
/// The judgement of a pair: <see cref="Winner"/> is the index (0 or 1) into the request's responses, null for a tie or
/// when no verdict was readable (<see cref="IsTie"/> tells them apart). <see cref="Critique"/> the judge's reasoning,
/// <see cref="Raw"/> its whole text (in set mode both looks, in the canonical order of their responses).
/// </summary>
public sealed record ResponsesCompared(Guid RequestId, int? Winner, bool IsTie, string Critique, string Raw, int PromptTokens, int CompletionTokens, string WorkerId);
