namespace Platform.Contracts.Embeddings;

/// <summary>The worker refused the embeddings request. <see cref="Code"/> is one of <see cref="Chat.ChatErrorCodes"/>.</summary>
public sealed record EmbeddingsRejected(Guid RequestId, string WorkerId, string Code, string Message, string? Param);
