namespace Platform.Batch.Storage;

/// <summary>One request line of a batch input file, accepted at validation. <see cref="Body"/> is the JSON body.</summary>
public sealed record BatchItem
{
    public required string BatchId { get; init; }
    public required string CustomId { get; init; }
    public long LineNumber { get; init; }
    public required string Body { get; init; }
    /// <summary>When the item was last published to the queue (Unix seconds); null when never.</summary>
    public long? DispatchedAt { get; init; }
}
