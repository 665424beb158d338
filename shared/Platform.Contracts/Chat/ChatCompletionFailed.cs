namespace Platform.Contracts.Chat;

/// <summary>Terminal failure after the request was accepted. <see cref="Code"/> is one of <see cref="ChatErrorCodes"/>.</summary>
public sealed record ChatCompletionFailed(Guid RequestId, string Code, string Message);
