namespace Platform.Contracts.Embeddings;

/// <summary>
/// Command sent (request/response) to the model's queue (<see cref="Chat.ChatQueues.ForModel"/>, the same queue as its
/// generations): embed each input, text (<see cref="Inputs"/>) or token ids (<see cref="TokenInputs"/>), exactly one of
/// them set. <see cref="Dimensions"/> null means the model's full size. Answered with <see cref="EmbeddingsCreated"/>
/// or <see cref="EmbeddingsRejected"/>.
/// </summary>
public sealed record CreateEmbeddings(
    Guid RequestId,
    string Model,
    IReadOnlyList<string>? Inputs,
    IReadOnlyList<IReadOnlyList<int>>? TokenInputs,
    int? Dimensions);
