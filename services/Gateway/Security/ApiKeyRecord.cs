namespace Gateway.Security;

/// <summary>
/// An API key as stored: never the key itself, only its SHA-256 (<see cref="ApiKeyTokens"/>) and a short prefix to
/// recognise it by. <see cref="Models"/> is the allow-list (null: every model); the limits are per minute, null for
/// the configured default and 0 for unlimited.
/// </summary>
public sealed record ApiKeyRecord
{
    public required string Id { get; init; }
    public required string Tenant { get; init; }
    public required string Name { get; init; }
    public required string Hash { get; init; }
    public required string Prefix { get; init; }
    public long CreatedAt { get; init; }
    public long? RevokedAt { get; init; }
    /// <summary>JSON array of model names, or null.</summary>
    public string? Models { get; init; }
    public long? RequestsPerMinute { get; init; }
    public long? TokensPerMinute { get; init; }
    public long? BatchRequestsPerMinute { get; init; }

    public IReadOnlySet<string>? AllowedModels => Models is null
        ? null
        : System.Text.Json.JsonSerializer.Deserialize<string[]>(Models)!.ToHashSet(StringComparer.Ordinal);
}
