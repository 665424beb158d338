namespace Platform.Contracts.Events;

/// <summary>
/// Platform event (CloudEvent data on Dapr pub/sub topic "{prefix}.batch.completed"): a batch reached status "completed".
/// Counts are request lines; file ids are those of GET /v1/files/{id}/content (null when the batch wrote none).
/// </summary>
public sealed record BatchCompleted(
    string BatchId, string Endpoint, long Total, long Completed, long Failed,
    string? OutputFileId, string? ErrorFileId, DateTimeOffset At);
