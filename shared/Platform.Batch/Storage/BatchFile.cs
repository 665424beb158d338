namespace Platform.Batch.Storage;

/// <summary>A stored file (OpenAI Files API object). Content is kept in the store, loaded separately.</summary>
public sealed record BatchFile
{
    public required string Id { get; init; }
    public required string Purpose { get; init; }
    public required string Filename { get; init; }
    public long Bytes { get; init; }
    public long CreatedAt { get; init; }
    /// <summary>The tenant that owns it (the API key's); empty on an open gateway.</summary>
    public string Tenant { get; init; } = "";
}
