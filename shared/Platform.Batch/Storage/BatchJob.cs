namespace Platform.Batch.Storage;

/// <summary>
/// One batch as stored. Status follows OpenAI's lifecycle (<see cref="BatchStatus"/>); timestamps are Unix
/// seconds; <see cref="ErrorsJson"/> holds the validation errors as a JSON array of {code,message,param,line}.
/// Completed/Failed are maintained by <see cref="IBatchStore.TryRecordResultAsync"/> in the same transaction as
/// the result row, so they always equal the number of result rows.
/// </summary>
public sealed record BatchJob
{
    public required string Id { get; init; }
    public required string Endpoint { get; init; }
    public required string InputFileId { get; init; }
    public required string CompletionWindow { get; init; }
    public required string Status { get; init; }
    public long CreatedAt { get; init; }
    public long ExpiresAt { get; init; }
    public long? InProgressAt { get; init; }
    public long? FinalizingAt { get; init; }
    public long? CompletedAt { get; init; }
    public long? FailedAt { get; init; }
    public long? ExpiredAt { get; init; }
    public long? CancellingAt { get; init; }
    public long? CancelledAt { get; init; }
    public string? OutputFileId { get; init; }
    public string? ErrorFileId { get; init; }
    public string? ErrorsJson { get; init; }
    public string? MetadataJson { get; init; }
    public long Total { get; init; }
    public long Completed { get; init; }
    public long Failed { get; init; }
    /// <summary>The tenant that owns it (the API key's); empty on an open gateway. Its output files get the same.</summary>
    public string Tenant { get; init; } = "";
}
