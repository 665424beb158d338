namespace Platform.Batch.Storage;

/// <summary>
/// The outcome of one item; at most one per (BatchId, CustomId). <see cref="StatusCode"/> is the HTTP status the
/// request would have had; <see cref="ResponseBody"/> is the JSON response body (success or OpenAI error JSON).
/// <see cref="ErrorJson"/> is set for items that produced no HTTP response (e.g. expired or cancelled).
/// </summary>
public sealed record BatchItemResult
{
    public required string BatchId { get; init; }
    public required string CustomId { get; init; }
    public long LineNumber { get; init; }
    public required string ResultId { get; init; }
    public required string RequestId { get; init; }
    public long StatusCode { get; init; }
    public string? ResponseBody { get; init; }
    public string? ErrorJson { get; init; }
    public long CreatedAt { get; init; }

    public bool Succeeded => StatusCode is >= 200 and < 300 && ErrorJson is null;
}
