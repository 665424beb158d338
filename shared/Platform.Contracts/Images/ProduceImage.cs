namespace Platform.Contracts.Images;

/// <summary>
/// Command (request/response) to <see cref="ImageQueues.ForModel"/>: turn an image slot of <see cref="Model"/>'s answer
/// into a picture (GILL: the decision head picks generate or retrieve). Answered by <see cref="ImageProduced"/> or
/// <see cref="ImageRequestRejected"/>. <see cref="Decision"/> "generate" or "retrieve" overrides the decision head
/// (the images API asks for generation); null lets the model decide.
/// </summary>
public sealed record ProduceImage(Guid RequestId, string Model, ImageSlotStates Slot, string? Decision = null);
