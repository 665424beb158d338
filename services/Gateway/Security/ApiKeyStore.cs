using Dapper;
using Platform.Batch.Storage;

namespace Gateway.Security;

/// <summary>
/// API keys in the platform's database (table api_keys beside the batches: SQLite all-in-one, PostgreSQL distributed),
/// so every gateway replica checks the same keys and a revocation reaches all of them at the next request.
/// </summary>
public sealed class ApiKeyStore(IPlatformDatabase database, TimeProvider time)
{
    private const string Columns =
        "id, tenant, name, hash, prefix, created_at, revoked_at, models, requests_per_minute, tokens_per_minute, batch_requests_per_minute";

    public Task InitializeAsync(CancellationToken cancellationToken) => database.EnsureSchemaAsync(
    [
        """
        CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
            created_at BIGINT NOT NULL, revoked_at BIGINT NULL, models TEXT NULL, requests_per_minute BIGINT NULL,
            tokens_per_minute BIGINT NULL, batch_requests_per_minute BIGINT NULL)
        """,
    ], cancellationToken);

    /// <summary>Creates a key; returns the record and the key itself, which is shown once and never stored.</summary>
    public async Task<(ApiKeyRecord Record, string Key)> CreateAsync(string tenant, string name, IReadOnlyList<string>? models,
        long? requestsPerMinute, long? tokensPerMinute, long? batchRequestsPerMinute, CancellationToken cancellationToken)
    {
        var key = ApiKeyTokens.NewKey();
        var record = new ApiKeyRecord
        {
            Id = ApiKeyTokens.NewId(), Tenant = tenant, Name = name, Hash = ApiKeyTokens.Hash(key), Prefix = ApiKeyTokens.Prefix(key),
            CreatedAt = time.GetUtcNow().ToUnixTimeSeconds(),
            Models = models is null ? null : System.Text.Json.JsonSerializer.Serialize(models),
            RequestsPerMinute = requestsPerMinute, TokensPerMinute = tokensPerMinute, BatchRequestsPerMinute = batchRequestsPerMinute,
        };
        using var gate = await database.EnterWriteAsync(cancellationToken);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            $"""
            INSERT INTO api_keys ({Columns})
            VALUES (@Id, @Tenant, @Name, @Hash, @Prefix, @CreatedAt, @RevokedAt, @Models, @RequestsPerMinute, @TokensPerMinute,
                    @BatchRequestsPerMinute)
            """, record, cancellationToken: cancellationToken));
        return (record, key);
    }

    /// <summary>The active (not revoked) key with this secret, or null.</summary>
    public async Task<ApiKeyRecord?> FindActiveAsync(string key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ApiKeyRecord>(new CommandDefinition(
            $"SELECT {Columns} FROM api_keys WHERE hash = @hash AND revoked_at IS NULL",
            new { hash = ApiKeyTokens.Hash(key) }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<ApiKeyRecord>(new CommandDefinition(
            $"SELECT {Columns} FROM api_keys ORDER BY created_at, id", cancellationToken: cancellationToken))).AsList();
    }

    public async Task<ApiKeyRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ApiKeyRecord>(new CommandDefinition(
            $"SELECT {Columns} FROM api_keys WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>Revokes the key (kept, with its revocation time); false when there is no such key.</summary>
    public async Task<bool> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        using var gate = await database.EnterWriteAsync(cancellationToken);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, @now) WHERE id = @id",
            new { id, now = time.GetUtcNow().ToUnixTimeSeconds() }, cancellationToken: cancellationToken));
        return rows == 1;
    }

    /// <summary>Keys ever created, revoked ones included: once a platform had keys it stays closed.</summary>
    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM api_keys", cancellationToken: cancellationToken));
    }
}
