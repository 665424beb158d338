namespace Platform.Contracts.Images;

/// <summary>
/// Command (request/response) to <see cref="ImageQueues.ForModel"/>: decode <see cref="Image"/> (PNG, JPEG, ...) and
/// encode it into visual tokens of <see cref="Model"/>. Answered by <see cref="ImageEncoded"/> or
/// <see cref="ImageRequestRejected"/> (code <see cref="ImageErrorCodes.InvalidImage"/> for corrupt, oversized or
/// non-image bytes). <see cref="Name"/> names the input in error messages (e.g. "messages[0].content[1]").
/// </summary>
public sealed record EncodeImage(Guid RequestId, string Model, byte[] Image, string Name);
