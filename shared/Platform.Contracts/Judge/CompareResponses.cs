using Platform.Contracts.Chat;

namespace Platform.Contracts.Judge;

/// <summary>
/// Command (request/response) to a judge model's queue: which of the two <see cref="Responses"/> answers the conversation
/// better, or a tie. <see cref="Mode"/> is <see cref="JudgeModes.Ordered"/> (Auto-J's pairwise protocol as published)
/// or <see cref="JudgeModes.Set"/> (order-independent by construction). Answered with <see cref="ResponsesCompared"/>
/// or <see cref="JudgeRequestRejected"/>.
/// </summary>
public sealed record CompareResponses(Guid RequestId, string Model, IReadOnlyList<ChatTurn> Messages, IReadOnlyList<ChatTurn> Responses, string Mode);
