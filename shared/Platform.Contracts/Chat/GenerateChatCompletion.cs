namespace Platform.Contracts.Chat;

/// <summary>
/// Command sent (request/response) to the model's queue (<see cref="ChatQueues.ForModel"/>). The worker answers with
/// <see cref="ChatCompletionAccepted"/> or <see cref="ChatCompletionRejected"/>, then sends
/// <see cref="ChatCompletionChunkProduced"/> messages (and possibly one <see cref="ChatCompletionFailed"/>) to
/// <see cref="StreamAddress"/>, the requesting instance's own endpoint. <see cref="MaxTokens"/> null means
/// "as many as the context allows" (capped by the worker's default). A text completion (POST /v1/completions) sends no
/// messages and a raw <see cref="Prompt"/> or <see cref="PromptTokens"/> instead (no chat template). <see cref="Logprobs"/>
/// set asks for each token's log-probability and that many alternatives in the chunks; with <see cref="PromptLogprobs"/>
/// the acceptance also carries the prompt's own token log-probabilities (echo with logprobs).
/// <see cref="ResponseFormat"/> and <see cref="Tools"/> ask for constrained output and function calls.
/// </summary>
public sealed record GenerateChatCompletion(
    Guid RequestId,
    string Model,
    IReadOnlyList<ChatTurn> Messages,
    int? MaxTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> Stop,
    Uri StreamAddress,
    string? Prompt = null,
    IReadOnlyList<int>? PromptTokens = null,
    int? Logprobs = null,
    bool PromptLogprobs = false,
    ResponseFormat? ResponseFormat = null,
    ToolUse? Tools = null);
