using Platform.Contracts.Chat;

namespace Platform.Contracts.Judge;

/// <summary>
/// Command (request/response) to a judge model's queue (<see cref="JudgeQueues.ForModel"/>): rate <see cref="Response"/>
/// as an answer to the conversation <see cref="Messages"/> with Auto-J's single-response protocol. Answered with
/// <see cref="ResponseRated"/> or <see cref="JudgeRequestRejected"/>.
/// </summary>
public sealed record RateResponse(Guid RequestId, string Model, IReadOnlyList<ChatTurn> Messages, ChatTurn Response);
