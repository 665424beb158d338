namespace Platform.Batch.Storage;

/// <summary>
/// Durable state of files, batches, items and results. One interface, two databases: SQLite (all-in-one mode)
/// and PostgreSQL (distributed mode). Every write that must not be lost commits before the method returns.
/// </summary>
public interface IBatchStore
{
    /// <summary>Creates the tables when missing (idempotent, safe from several processes).</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task InsertFileAsync(BatchFile file, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);
    /// <summary>Inserts unless a file with this id exists; returns false when it existed (idempotent finalization).</summary>
    Task<bool> TryInsertFileAsync(BatchFile file, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);
    // A tenant given to a read or delete limits it to that tenant's rows (another tenant's id is "not found");
    // null, for the coordinator and the item consumer, reaches every row.
    Task<BatchFile?> GetFileAsync(string id, CancellationToken cancellationToken, string? tenant = null);
    Task<byte[]?> GetFileContentAsync(string id, CancellationToken cancellationToken, string? tenant = null);
    /// <summary>Newest first; <paramref name="after"/> is a cursor (an id from a previous page).</summary>
    Task<IReadOnlyList<BatchFile>> ListFilesAsync(string? purpose, string? after, int limit, CancellationToken cancellationToken,
        string? tenant = null);
    Task<bool> DeleteFileAsync(string id, CancellationToken cancellationToken, string? tenant = null);

    Task InsertBatchAsync(BatchJob batch, CancellationToken cancellationToken);
    Task<BatchJob?> GetBatchAsync(string id, CancellationToken cancellationToken, string? tenant = null);
    /// <summary>Newest first; <paramref name="after"/> is a cursor (an id from a previous page).</summary>
    Task<IReadOnlyList<BatchJob>> ListBatchesAsync(string? after, int limit, CancellationToken cancellationToken, string? tenant = null);
    Task<IReadOnlyList<BatchJob>> ListBatchesByStatusAsync(IReadOnlyCollection<string> statuses, CancellationToken cancellationToken);
    Task<IReadOnlyDictionary<string, long>> CountBatchesByStatusAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Compare-and-set: writes <paramref name="updated"/>'s status, timestamps, file ids, errors and total only when
    /// the stored status is still <paramref name="expectedStatus"/>. Returns false when another writer moved first.
    /// </summary>
    Task<bool> TryUpdateBatchAsync(BatchJob updated, string expectedStatus, CancellationToken cancellationToken);

    /// <summary>Inserts items, ignoring ones already stored (batch id + custom id), so re-validation is harmless.</summary>
    Task InsertItemsAsync(IReadOnlyList<BatchItem> items, CancellationToken cancellationToken);
    /// <summary>Items without a result, in line order; <paramref name="dispatchedBefore"/> (Unix seconds) keeps only
    /// items never dispatched or dispatched before then.</summary>
    Task<IReadOnlyList<BatchItem>> GetPendingItemsAsync(string batchId, long? dispatchedBefore, CancellationToken cancellationToken);
    Task MarkDispatchedAsync(string batchId, IReadOnlyList<string> customIds, long at, CancellationToken cancellationToken);
    Task<bool> HasResultAsync(string batchId, string customId, CancellationToken cancellationToken);

    /// <summary>
    /// Idempotent insert keyed by (batch id, custom id): the first result wins, a duplicate delivery is ignored and
    /// returns false. Bumps the batch's completed/failed counter in the same transaction when inserted.
    /// </summary>
    Task<bool> TryRecordResultAsync(BatchItemResult result, CancellationToken cancellationToken);
    /// <summary>All results of a batch in input line order.</summary>
    Task<IReadOnlyList<BatchItemResult>> GetResultsAsync(string batchId, CancellationToken cancellationToken);

    /// <summary>
    /// Takes or renews the lease <paramref name="name"/> for <paramref name="holder"/> until now + duration; false when
    /// another holder has it and it has not expired. Holders' clocks must agree to well within the duration.
    /// </summary>
    Task<bool> TryAcquireLeaseAsync(string name, string holder, DateTimeOffset now, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Gives the lease up (when <paramref name="holder"/> has it), so another takes over at once.</summary>
    Task ReleaseLeaseAsync(string name, string holder, CancellationToken cancellationToken);
}
