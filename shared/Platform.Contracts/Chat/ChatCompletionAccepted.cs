namespace Platform.Contracts.Chat;

/// <summary>The worker took the request. <see cref="ControlAddress"/> is the worker instance's own endpoint
/// (send <see cref="CancelChatCompletion"/> there); <see cref="WorkerId"/> names the instance.</summary>
public sealed record ChatCompletionAccepted(Guid RequestId, string WorkerId, Uri ControlAddress, int PromptTokens);
