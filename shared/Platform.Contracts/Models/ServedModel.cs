namespace Platform.Contracts.Models;

/// <summary>A model a worker instance has loaded and serves.</summary>
public sealed record ServedModel(string Name, int MaxContextTokens, int MaxConcurrentSequences, bool AcceptsImages);
