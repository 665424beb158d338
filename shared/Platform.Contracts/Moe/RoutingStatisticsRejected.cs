namespace Platform.Contracts.Moe;

/// <summary>A routing question the worker did not answer: <see cref="Code"/> is one of <see cref="Chat.ChatErrorCodes"/>.</summary>
public sealed record RoutingStatisticsRejected(Guid RequestId, string Code, string Message);
