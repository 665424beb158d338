using System.Data.Common;
using Dapper;

namespace Platform.Batch.Storage;

/// <summary>
/// The store on plain SQL through Dapper. Both databases understand the same statements (INSERT .. ON CONFLICT DO
/// NOTHING, LIMIT, correlated cursor sub-selects); only the DDL and connection setup differ per subclass.
/// </summary>
public abstract class SqlBatchStore : IBatchStore, IBlobStore, IPlatformDatabase
{
    static SqlBatchStore() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    /// <summary>
    /// Where file contents live (Batch:FileContentStore): this database's blobs table by default, or the Dapr state
    /// store, so uploads and batch output reach every replica through the same store interface as generated images.
    /// A file's row holds its metadata and the key of its content.
    /// </summary>
    public IBlobStore? FileContents { get; init; }

    private IBlobStore Contents => FileContents ?? this;

    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Held around every write. SQLite has one writer at a time: queueing writers here, rather than letting
    /// them collide and sleep in SQLite's busy handler, keeps thread-pool threads free. PostgreSQL needs no gate.</summary>
    protected virtual ValueTask<IDisposable?> EnterWriteAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IDisposable?>(null);

    /// <summary>Statements creating the schema; each must be idempotent (IF NOT EXISTS).</summary>
    protected abstract IReadOnlyList<string> SchemaStatements { get; }

    public virtual async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await BeforeSchemaAsync(connection, tx, cancellationToken);
        foreach (var sql in SchemaStatements)
            await connection.ExecuteAsync(new CommandDefinition(sql, transaction: tx, cancellationToken: cancellationToken));
        // Databases made before files and batches had an owner: add the column, existing rows go to the open tenant.
        foreach (var table in new[] { "batch_files", "batches" })
            await AddColumnIfMissingAsync(connection, tx, table, "tenant", "TEXT NOT NULL DEFAULT ''", cancellationToken);
        // Databases made before file contents moved to the blob store: their rows keep the content inline (no key).
        await AddColumnIfMissingAsync(connection, tx, "batch_files", "content_key", "TEXT NULL", cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>ALTER TABLE .. ADD COLUMN unless the column exists (SQLite has no ADD COLUMN IF NOT EXISTS).</summary>
    protected abstract Task AddColumnIfMissingAsync(DbConnection connection, DbTransaction tx, string table, string column,
        string definition, CancellationToken cancellationToken);

    Task<DbConnection> IPlatformDatabase.OpenConnectionAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    ValueTask<IDisposable?> IPlatformDatabase.EnterWriteAsync(CancellationToken cancellationToken) => EnterWriteAsync(cancellationToken);

    async Task IPlatformDatabase.EnsureSchemaAsync(IReadOnlyList<string> statements, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await BeforeSchemaAsync(connection, tx, cancellationToken);
        foreach (var sql in statements)
            await connection.ExecuteAsync(new CommandDefinition(sql, transaction: tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Hook to serialize concurrent schema creation (PostgreSQL takes an advisory lock).</summary>
    protected virtual Task BeforeSchemaAsync(DbConnection connection, DbTransaction tx, CancellationToken cancellationToken) => Task.CompletedTask;

    private const string FileColumns = "id, purpose, filename, bytes, created_at, tenant";

    /// <summary>Rows of <c>tenant</c> only; a null tenant (the coordinator, tests) sees every row.</summary>
    private const string TenantFilter = "(@tenant IS NULL OR tenant = @tenant)";

    public async Task InsertFileAsync(BatchFile file, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        if (!await TryInsertFileAsync(file, content, cancellationToken))
            throw new InvalidOperationException($"A file with id '{file.Id}' already exists.");
    }

    public async Task<bool> TryInsertFileAsync(BatchFile file, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        // The content first, under a key of its own, then the row that names it: a reader never finds a row without its
        // content, and a second insert of the same id (a coordinator taking over) never replaces the first's content.
        var key = $"files/{file.Id}/{Guid.NewGuid():N}";
        await Contents.PutAsync(key, content, cancellationToken);
        int rows;
        using (await EnterWriteAsync(cancellationToken))
        {
            await using var connection = await OpenAsync(cancellationToken);
            rows = await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO batch_files (id, purpose, filename, bytes, created_at, tenant, content, content_key)
                VALUES (@Id, @Purpose, @Filename, @Bytes, @CreatedAt, @Tenant, @Content, @Key)
                ON CONFLICT (id) DO NOTHING
                """,
                new { file.Id, file.Purpose, file.Filename, file.Bytes, file.CreatedAt, file.Tenant, Content = Array.Empty<byte>(), Key = key },
                cancellationToken: cancellationToken));
        }
        if (rows == 0) await Contents.DeleteAsync(key, cancellationToken);
        return rows == 1;
    }

    public async Task<BatchFile?> GetFileAsync(string id, CancellationToken cancellationToken, string? tenant = null)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<BatchFile>(new CommandDefinition(
            $"SELECT {FileColumns} FROM batch_files WHERE id = @id AND {TenantFilter}", new { id, tenant }, cancellationToken: cancellationToken));
    }

    public async Task<byte[]?> GetFileContentAsync(string id, CancellationToken cancellationToken, string? tenant = null)
    {
        StoredContent? row;
        await using (var connection = await OpenAsync(cancellationToken))
            row = await connection.QuerySingleOrDefaultAsync<StoredContent>(new CommandDefinition(
                $"SELECT content, content_key FROM batch_files WHERE id = @id AND {TenantFilter}", new { id, tenant }, cancellationToken: cancellationToken));
        return row switch
        {
            null => null,
            { ContentKey: null } => row.Content,
            _ => await Contents.GetAsync(row.ContentKey, cancellationToken),
        };
    }

    /// <summary>A file row's content columns: inline content (rows older than the blob store) or the content's key.</summary>
    private sealed class StoredContent
    {
        public byte[] Content { get; init; } = [];
        public string? ContentKey { get; init; }
    }

    public async Task<IReadOnlyList<BatchFile>> ListFilesAsync(string? purpose, string? after, int limit, CancellationToken cancellationToken,
        string? tenant = null)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<BatchFile>(new CommandDefinition(
            $"""
            SELECT {FileColumns} FROM batch_files
            WHERE (@purpose IS NULL OR purpose = @purpose) AND {TenantFilter}
              AND (@after IS NULL OR seq < (SELECT f.seq FROM batch_files f WHERE f.id = @after))
            ORDER BY seq DESC LIMIT @limit
            """,
            new { purpose, after, limit, tenant }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task<bool> DeleteFileAsync(string id, CancellationToken cancellationToken, string? tenant = null)
    {
        IReadOnlyList<string?> keys;
        using (await EnterWriteAsync(cancellationToken))
        {
            await using var connection = await OpenAsync(cancellationToken);
            keys = (await connection.QueryAsync<string?>(new CommandDefinition(
                $"DELETE FROM batch_files WHERE id = @id AND {TenantFilter} RETURNING content_key", new { id, tenant },
                cancellationToken: cancellationToken))).AsList();
        }
        foreach (var key in keys)
            if (key is not null) await Contents.DeleteAsync(key, cancellationToken);
        return keys.Count == 1;
    }

    private const string BatchColumns =
        "id, endpoint, input_file_id, completion_window, status, created_at, expires_at, in_progress_at, finalizing_at, " +
        "completed_at, failed_at, expired_at, cancelling_at, cancelled_at, output_file_id, error_file_id, errors_json, " +
        "metadata_json, total, completed, failed, tenant";

    public async Task InsertBatchAsync(BatchJob batch, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            $"""
            INSERT INTO batches ({BatchColumns})
            VALUES (@Id, @Endpoint, @InputFileId, @CompletionWindow, @Status, @CreatedAt, @ExpiresAt, @InProgressAt,
                    @FinalizingAt, @CompletedAt, @FailedAt, @ExpiredAt, @CancellingAt, @CancelledAt, @OutputFileId,
                    @ErrorFileId, @ErrorsJson, @MetadataJson, @Total, @Completed, @Failed, @Tenant)
            """,
            batch, cancellationToken: cancellationToken));
    }

    public async Task<BatchJob?> GetBatchAsync(string id, CancellationToken cancellationToken, string? tenant = null)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<BatchJob>(new CommandDefinition(
            $"SELECT {BatchColumns} FROM batches WHERE id = @id AND {TenantFilter}", new { id, tenant }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<BatchJob>> ListBatchesAsync(string? after, int limit, CancellationToken cancellationToken, string? tenant = null)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<BatchJob>(new CommandDefinition(
            $"""
            SELECT {BatchColumns} FROM batches
            WHERE {TenantFilter} AND (@after IS NULL OR seq < (SELECT b.seq FROM batches b WHERE b.id = @after))
            ORDER BY seq DESC LIMIT @limit
            """,
            new { after, limit, tenant }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task<IReadOnlyList<BatchJob>> ListBatchesByStatusAsync(IReadOnlyCollection<string> statuses, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // Explicit parameters: Dapper expands "IN @list" for SQLite but sends a PostgreSQL array to Npgsql.
        var parameters = new DynamicParameters();
        var names = statuses.Select((status, i) => { parameters.Add($"s{i}", status); return $"@s{i}"; }).ToList();
        if (names.Count == 0) return [];
        var rows = await connection.QueryAsync<BatchJob>(new CommandDefinition(
            $"SELECT {BatchColumns} FROM batches WHERE status IN ({string.Join(", ", names)}) ORDER BY seq",
            parameters, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task<IReadOnlyDictionary<string, long>> CountBatchesByStatusAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Status, long Count)>(new CommandDefinition(
            "SELECT status, COUNT(*) FROM batches GROUP BY status", cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Status, r => r.Count);
    }

    public async Task<bool> TryUpdateBatchAsync(BatchJob updated, string expectedStatus, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE batches SET status = @Status, in_progress_at = @InProgressAt, finalizing_at = @FinalizingAt,
                completed_at = @CompletedAt, failed_at = @FailedAt, expired_at = @ExpiredAt,
                cancelling_at = @CancellingAt, cancelled_at = @CancelledAt, output_file_id = @OutputFileId,
                error_file_id = @ErrorFileId, errors_json = @ErrorsJson, total = @Total
            WHERE id = @Id AND status = @expectedStatus
            """,
            new
            {
                updated.Id, updated.Status, updated.InProgressAt, updated.FinalizingAt, updated.CompletedAt,
                updated.FailedAt, updated.ExpiredAt, updated.CancellingAt, updated.CancelledAt, updated.OutputFileId,
                updated.ErrorFileId, updated.ErrorsJson, updated.Total, expectedStatus,
            },
            cancellationToken: cancellationToken));
        return rows == 1;
    }

    public async Task InsertItemsAsync(IReadOnlyList<BatchItem> items, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        if (items.Count == 0) return;
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // One prepared statement executed per row inside one transaction: a single commit for the whole file.
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO batch_items (batch_id, custom_id, line_number, body, dispatched_at)
            VALUES (@BatchId, @CustomId, @LineNumber, @Body, @DispatchedAt)
            ON CONFLICT (batch_id, custom_id) DO NOTHING
            """,
            items, transaction: tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<BatchItem>> GetPendingItemsAsync(string batchId, long? dispatchedBefore, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<BatchItem>(new CommandDefinition(
            """
            SELECT i.batch_id, i.custom_id, i.line_number, i.body, i.dispatched_at FROM batch_items i
            WHERE i.batch_id = @batchId
              AND NOT EXISTS (SELECT 1 FROM batch_results r WHERE r.batch_id = i.batch_id AND r.custom_id = i.custom_id)
              AND (@dispatchedBefore IS NULL OR i.dispatched_at IS NULL OR i.dispatched_at < @dispatchedBefore)
            ORDER BY i.line_number
            """,
            new { batchId, dispatchedBefore }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task MarkDispatchedAsync(string batchId, IReadOnlyList<string> customIds, long at, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        if (customIds.Count == 0) return;
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE batch_items SET dispatched_at = @at WHERE batch_id = @batchId AND custom_id = @customId",
            customIds.Select(customId => new { at, batchId, customId }), transaction: tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<bool> HasResultAsync(string batchId, string customId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM batch_results WHERE batch_id = @batchId AND custom_id = @customId",
            new { batchId, customId }, cancellationToken: cancellationToken)) > 0;
    }

    public async Task<bool> TryRecordResultAsync(BatchItemResult result, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO batch_results (batch_id, custom_id, line_number, result_id, request_id, status_code,
                                       response_body, error_json, created_at)
            VALUES (@BatchId, @CustomId, @LineNumber, @ResultId, @RequestId, @StatusCode, @ResponseBody, @ErrorJson, @CreatedAt)
            ON CONFLICT (batch_id, custom_id) DO NOTHING
            """,
            result, transaction: tx, cancellationToken: cancellationToken));
        if (inserted == 1)
        {
            var counter = result.Succeeded ? "completed" : "failed";
            await connection.ExecuteAsync(new CommandDefinition(
                $"UPDATE batches SET {counter} = {counter} + 1 WHERE id = @BatchId",
                new { result.BatchId }, transaction: tx, cancellationToken: cancellationToken));
        }
        await tx.CommitAsync(cancellationToken);
        return inserted == 1;
    }

    public async Task<IReadOnlyList<BatchItemResult>> GetResultsAsync(string batchId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<BatchItemResult>(new CommandDefinition(
            """
            SELECT batch_id, custom_id, line_number, result_id, request_id, status_code, response_body, error_json, created_at
            FROM batch_results WHERE batch_id = @batchId ORDER BY line_number
            """,
            new { batchId }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>DDL shared by both databases, with the two spots that differ as placeholders.</summary>
    protected static IReadOnlyList<string> Schema(string seqColumn, string blobType) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS batch_files (
            seq {seqColumn}, id TEXT NOT NULL UNIQUE, purpose TEXT NOT NULL, filename TEXT NOT NULL,
            bytes BIGINT NOT NULL, created_at BIGINT NOT NULL, content {blobType} NOT NULL, tenant TEXT NOT NULL DEFAULT '')
        """,
        $"""
        CREATE TABLE IF NOT EXISTS batches (
            seq {seqColumn}, id TEXT NOT NULL UNIQUE, endpoint TEXT NOT NULL, input_file_id TEXT NOT NULL,
            completion_window TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
            in_progress_at BIGINT NULL, finalizing_at BIGINT NULL, completed_at BIGINT NULL, failed_at BIGINT NULL,
            expired_at BIGINT NULL, cancelling_at BIGINT NULL, cancelled_at BIGINT NULL, output_file_id TEXT NULL,
            error_file_id TEXT NULL, errors_json TEXT NULL, metadata_json TEXT NULL,
            total BIGINT NOT NULL DEFAULT 0, completed BIGINT NOT NULL DEFAULT 0, failed BIGINT NOT NULL DEFAULT 0,
            tenant TEXT NOT NULL DEFAULT '')
        """,
        "CREATE INDEX IF NOT EXISTS ix_batches_status ON batches (status)",
        """
        CREATE TABLE IF NOT EXISTS batch_items (
            batch_id TEXT NOT NULL, custom_id TEXT NOT NULL, line_number BIGINT NOT NULL, body TEXT NOT NULL,
            dispatched_at BIGINT NULL, PRIMARY KEY (batch_id, custom_id))
        """,
        """
        CREATE TABLE IF NOT EXISTS batch_results (
            batch_id TEXT NOT NULL, custom_id TEXT NOT NULL, line_number BIGINT NOT NULL, result_id TEXT NOT NULL,
            request_id TEXT NOT NULL, status_code BIGINT NOT NULL, response_body TEXT NULL, error_json TEXT NULL,
            created_at BIGINT NOT NULL, PRIMARY KEY (batch_id, custom_id))
        """,
        "CREATE TABLE IF NOT EXISTS batch_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL)",
        $"CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, content {blobType} NOT NULL, created_at BIGINT NOT NULL)",
    ];

    // ---- Leases: one holder at a time per name, for as long as it renews --------------------------------------------

    public async Task<bool> TryAcquireLeaseAsync(string name, string holder, DateTimeOffset now, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        // One statement, atomic on both databases: insert, or take over when this holder already has it or it expired.
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO batch_leases (name, holder, expires_at) VALUES (@name, @holder, @expires)
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE batch_leases.holder = excluded.holder OR batch_leases.expires_at <= @now
            """,
            new { name, holder, expires = (now + duration).ToUnixTimeMilliseconds(), now = now.ToUnixTimeMilliseconds() },
            cancellationToken: cancellationToken));
        return rows == 1;
    }

    public async Task ReleaseLeaseAsync(string name, string holder, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM batch_leases WHERE name = @name AND holder = @holder", new { name, holder }, cancellationToken: cancellationToken));
    }

    // ---- Blobs (IBlobStore): generated images and other content every replica must reach -----------------------------

    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO blobs (key, content, created_at) VALUES (@key, @content, @created)
            ON CONFLICT (key) DO UPDATE SET content = excluded.content, created_at = excluded.created_at
            """,
            new { key, content = content.ToArray(), created = DateTimeOffset.UtcNow.ToUnixTimeSeconds() }, cancellationToken: cancellationToken));
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<byte[]>(new CommandDefinition(
            "SELECT content FROM blobs WHERE key = @key", new { key }, cancellationToken: cancellationToken));
    }

    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken)
    {
        using var writeGate = await EnterWriteAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM blobs WHERE key = @key", new { key }, cancellationToken: cancellationToken)) == 1;
    }
}
