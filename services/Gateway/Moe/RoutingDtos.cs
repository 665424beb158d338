namespace Gateway.Moe;

/// <summary>GET /v1/models/{id}/routing: one worker's routing counts for an MoE model, per layer and expert, by modality.</summary>
public sealed record ModelRoutingDto(string Object, string Model, string Worker, int Experts, int TopK, double SpecificThreshold,
    IReadOnlyList<LayerRoutingDto> Layers);

/// <summary>One layer: tokens routed by modality, each expert's counts and shares, the two distributions' entropies (bits)
/// and their Jensen-Shannon divergence (bits, 0..1; left out when a modality has no tokens), modality-specific experts.</summary>
public sealed record LayerRoutingDto(int Layer, long TextTokens, long ImageTokens, IReadOnlyList<ExpertRoutingDto> Experts,
    double? TextEntropyBits, double? ImageEntropyBits, double? JsDivergenceBits, IReadOnlyList<int> ImageSpecificExperts,
    IReadOnlyList<int> TextSpecificExperts);

/// <summary>One expert: (token, top-k slot) pairs per modality, each modality's share of it, its image fraction.</summary>
public sealed record ExpertRoutingDto(int Expert, long TextTokens, long ImageTokens, double TextShare, double ImageShare, double? ImageFraction);
