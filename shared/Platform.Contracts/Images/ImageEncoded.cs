namespace Platform.Contracts.Images;

/// <summary>The answer to <see cref="EncodeImage"/>: the image's visual tokens.</summary>
public sealed record ImageEncoded(Guid RequestId, VisualTokens Tokens);
