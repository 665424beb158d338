namespace Platform.Contracts.Chat;

/// <summary>The worker refused the request before generating. <see cref="Code"/> is one of <see cref="ChatErrorCodes"/>.</summary>
public sealed record ChatCompletionRejected(Guid RequestId, string WorkerId, string Code, string Message, string? Param);
