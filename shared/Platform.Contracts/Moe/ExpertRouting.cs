namespace Platform.Contracts.Moe;

/// <summary>One expert of a layer: (token, slot) pairs routed to it per modality, each modality's share of it, and its
/// image fraction ImageShare / (TextShare + ImageShare) (null when neither modality used it).</summary>
public sealed record ExpertRouting(int Expert, long TextSlots, long ImageSlots, double TextShare, double ImageShare, double? ImageFraction);
