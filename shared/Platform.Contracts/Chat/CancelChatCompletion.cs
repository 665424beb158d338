namespace Platform.Contracts.Chat;

/// <summary>Sent to the accepting worker's <see cref="ChatCompletionAccepted.ControlAddress"/> when the client went away.</summary>
public sealed record CancelChatCompletion(Guid RequestId);
