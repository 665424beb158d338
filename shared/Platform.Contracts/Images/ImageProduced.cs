namespace Platform.Contracts.Images;

/// <summary>The answer to <see cref="ProduceImage"/>: a PNG, how it was made (<see cref="Decision"/> "generate" or
/// "retrieve", with the retrieval probability) and, when retrieved, the gallery entry.</summary>
public sealed record ImageProduced(
    Guid RequestId,
    string Decision,
    float RetrieveProbability,
    byte[] Png,
    int Width,
    int Height,
    int? GalleryIndex,
    string? GalleryCaption);
