namespace Platform.Batch.Storage;

/// <summary>
/// Content by key that every replica reaches and that survives restarts: generated images (and any other content the
/// edge serves). Implementations: the batch store's database (SQLite all-in-one, PostgreSQL distributed, table
/// "blobs") and the Dapr state store (<see cref="DaprStateBlobStore"/>) in a cluster with Dapr.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores (or replaces) the content under <paramref name="key"/>.</summary>
    Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>The content under <paramref name="key"/>, or null.</summary>
    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken);
}
