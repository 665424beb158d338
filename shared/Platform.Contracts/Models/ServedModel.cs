namespace Platform.Contracts.Models;

/// <summary>A model a worker instance has loaded and serves. <see cref="Capabilities"/> says what it is for beyond
/// chat ("judge" for a judge model on the Judge service's queue); null or empty for a chat model.</summary>
public sealed record ServedModel(string Name, int MaxContextTokens, int MaxConcurrentSequences, bool AcceptsImages, IReadOnlyList<string>? Capabilities = null);
