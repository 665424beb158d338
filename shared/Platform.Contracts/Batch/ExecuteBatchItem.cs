namespace Platform.Contracts.Batch;

/// <summary>
/// Command: run one request line of a batch. Sent to the durable "batch-items" queue by the batch coordinator; the
/// consumer records exactly one result per (<see cref="BatchId"/>, <see cref="CustomId"/>), so a redelivered or
/// re-published copy is harmless. <see cref="Body"/> is the line's JSON request body.
/// <see cref="FirstDispatchedAt"/> (Unix seconds) bounds how long a missing model is waited for before the item fails.
/// </summary>
public sealed record ExecuteBatchItem(
    string BatchId,
    string CustomId,
    long LineNumber,
    string Endpoint,
    string Body,
    long FirstDispatchedAt);
