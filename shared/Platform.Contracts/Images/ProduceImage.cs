namespace Platform.Contracts.Images;

/// <summary>
/// Command (request/response) to <see cref="ImageQueues.ForModel"/>: turn an image slot of <see cref="Model"/>'s answer
/// into a picture (GILL: the decision head picks generate or retrieve). Answered by <see cref="ImageProduced"/> or
/// <see cref="ImageRequestRejected"/>.
/// </summary>
public sealed record ProduceImage(Guid RequestId, string Model, ImageSlotStates Slot);
