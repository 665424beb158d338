using System.Data.Common;

namespace Platform.Batch.Storage;

/// <summary>
/// The platform's database (SQLite all-in-one, PostgreSQL distributed) for other tables than the batch store's own:
/// the API keys live beside the batches, with the same connection setup and write gate.
/// </summary>
public interface IPlatformDatabase
{
    /// <summary>An open connection (pooled for PostgreSQL; SQLite with its pragmas).</summary>
    Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>Held around every write (SQLite has one writer at a time); disposing it releases the gate.</summary>
    ValueTask<IDisposable?> EnterWriteAsync(CancellationToken cancellationToken);

    /// <summary>Runs idempotent DDL in one transaction, serialized across processes like the batch store's own.</summary>
    Task EnsureSchemaAsync(IReadOnlyList<string> statements, CancellationToken cancellationToken);
}
