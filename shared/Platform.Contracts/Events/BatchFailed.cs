namespace Platform.Contracts.Events;

/// <summary>
/// Platform event (CloudEvent data on Dapr pub/sub topic "{prefix}.batch.failed"): a batch reached status "failed".
/// Counts are request lines; file ids are those of GET /v1/files/{id}/content (null when the batch wrote none).
/// </summary>
public sealed record BatchFailed(
    string BatchId, string Endpoint, long Total, long Completed, long Failed,
    string? OutputFileId, string? ErrorFileId, DateTimeOffset At);
