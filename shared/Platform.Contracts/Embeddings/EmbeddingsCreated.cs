namespace Platform.Contracts.Embeddings;

/// <summary>One L2-normalised vector per input, in order; <see cref="PromptTokens"/> counts the tokens of all inputs;
/// <see cref="Pooling"/> says how the model pools ("last_token" or "mean").</summary>
public sealed record EmbeddingsCreated(Guid RequestId, string WorkerId, IReadOnlyList<float[]> Vectors, int PromptTokens, string Pooling);
