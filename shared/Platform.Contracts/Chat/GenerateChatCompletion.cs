namespace Platform.Contracts.Chat;

/// <summary>
/// Command sent (request/response) to the model's queue (<see cref="ChatQueues.ForModel"/>). The worker answers with
/// <see cref="ChatCompletionAccepted"/> or <see cref="ChatCompletionRejected"/>, then sends
/// <see cref="ChatCompletionChunkProduced"/> messages (and possibly one <see cref="ChatCompletionFailed"/>) to
/// <see cref="StreamAddress"/>, the requesting instance's own endpoint. <see cref="MaxTokens"/> null means
/// "as many as the context allows" (capped by the worker's default). <see cref="ResponseFormat"/> and <see cref="Tools"/>
/// ask for constrained output and function calls.
/// </summary>
public sealed record GenerateChatCompletion(
    Guid RequestId,
    string Model,
    IReadOnlyList<ChatTurn> Messages,
    int? MaxTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    Uri StreamAddress,
    ResponseFormat? ResponseFormat = null,
    ToolUse? Tools = null);
