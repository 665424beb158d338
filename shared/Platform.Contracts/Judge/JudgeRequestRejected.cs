namespace Platform.Contracts.Judge;

/// <summary>A judge request the worker did not run: <see cref="Code"/> is one of <see cref="Chat.ChatErrorCodes"/>.</summary>
public sealed record JudgeRequestRejected(Guid RequestId, string Code, string Message, string? Param = null);
