namespace Platform.Contracts.Images;

/// <summary>ImageGen refused an <see cref="EncodeImage"/> or <see cref="ProduceImage"/>; <see cref="Code"/> is one of
/// <see cref="ImageErrorCodes"/> and <see cref="Message"/> says what is wrong with the input.</summary>
public sealed record ImageRequestRejected(Guid RequestId, string Code, string Message);
