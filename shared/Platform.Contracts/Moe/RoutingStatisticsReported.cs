namespace Platform.Contracts.Moe;

/// <summary>One worker's routing counts for a model since it loaded it (every forward: prompt and generated tokens),
/// one entry per layer. Each replica counts its own traffic: <see cref="WorkerId"/> says whose counts these are.</summary>
public sealed record RoutingStatisticsReported(
    Guid RequestId, string Model, string WorkerId, int Experts, int TopK, double SpecificThreshold, IReadOnlyList<LayerRouting> Layers);
