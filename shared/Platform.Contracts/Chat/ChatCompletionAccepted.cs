namespace Platform.Contracts.Chat;

/// <summary>The worker took the request. <see cref="ControlAddress"/> is the worker instance's own endpoint
/// (send <see cref="CancelChatCompletion"/> there); <see cref="WorkerId"/> names the instance. <see cref="PromptLogprobs"/>:
/// the prompt's token log-probabilities, when the request asked for them.</summary>
public sealed record ChatCompletionAccepted(Guid RequestId, string WorkerId, Uri ControlAddress, int PromptTokens,
    IReadOnlyList<PromptTokenLogprob>? PromptLogprobs = null);
