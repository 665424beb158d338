namespace Platform.Contracts.Judge;

/// <summary>The judgement of one response: <see cref="Rating"/> 1..10, or null when the judge's text has no readable
/// verdict; <see cref="Critique"/> the text before the verdict; <see cref="Raw"/> the judge's whole text.</summary>
public sealed record ResponseRated(Guid RequestId, int? Rating, string Critique, string Raw, int PromptTokens, int CompletionTokens, string WorkerId);
