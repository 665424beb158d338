namespace Platform.Contracts.Moe;

/// <summary>Asks a worker of <see cref="Model"/> for the routing its MoE layers did so far, by token modality. Answered
/// with <see cref="RoutingStatisticsReported"/> or <see cref="RoutingStatisticsRejected"/>.</summary>
public sealed record GetRoutingStatistics(Guid RequestId, string Model);
