namespace Platform.Contracts.Moe;

/// <summary>
/// One MoE layer's routing by modality. Tokens count each routed token once; per expert, the counts are (token, top-k
/// slot) pairs and the shares are each modality's distribution over experts. Undefined values (an entropy or a
/// divergence with no tokens of a modality, an expert neither modality used) are null.
/// </summary>
public sealed record LayerRouting(
    int Layer,
    long TextTokens,
    long ImageTokens,
    IReadOnlyList<ExpertRouting> Experts,
    double? TextEntropyBits,
    double? ImageEntropyBits,
    double? JensenShannonBits,
    IReadOnlyList<int> ImageSpecificExperts,
    IReadOnlyList<int> TextSpecificExperts);
