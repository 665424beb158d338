using Platform.Batch.Storage;
using Platform.Batch.Tenancy;

namespace Gateway.Images;

/// <summary>
/// Where produced PNGs live until clients fetch them (GET /v1/images/{id}.png). Images:Store chooses. An image belongs to
/// the tenant current when it was added (<see cref="TenantContext"/>) and is found only under that tenant, so another
/// tenant's key gets 404 for it; ids hold 122 random bits (a version-4 GUID), so they cannot be guessed either.
/// </summary>
public interface IImageStore
{
    /// <summary>Stores a PNG and returns its new id ("img-" + 32 hex digits).</summary>
    Task<string> AddAsync(byte[] png, CancellationToken cancellationToken);

    Task<byte[]?> GetAsync(string id, CancellationToken cancellationToken);
}

/// <summary>Images:Store: this process's memory (one gateway), the shared database, or the Dapr state store.</summary>
public enum ImageStoreKind { Memory, Database, Dapr }

/// <summary>
/// Images in an <see cref="IBlobStore"/> under "images/{id}": the batch store's database (SQLite all-in-one, PostgreSQL
/// with several gateways) or the Dapr state store, so every gateway replica serves every image, after restarts too.
/// </summary>
public sealed class SharedImageStore(IBlobStore blobs) : IImageStore
{
    public async Task<string> AddAsync(byte[] png, CancellationToken cancellationToken)
    {
        var id = $"img-{Guid.NewGuid():N}";
        await blobs.PutAsync(Key(id), png, cancellationToken);
        return id;
    }

    public Task<byte[]?> GetAsync(string id, CancellationToken cancellationToken) =>
        IsId(id) ? blobs.GetAsync(Key(id), cancellationToken) : Task.FromResult<byte[]?>(null);

    /// <summary>The open tenant keeps the key images had before tenants; a tenant's images live under its name.</summary>
    private static string Key(string id) =>
        TenantContext.Current is { Length: > 0 } tenant ? $"images/{tenant}/{id}" : "images/" + id;

    /// <summary>Only ids this store could have made reach the database.</summary>
    private static bool IsId(string id) => id.Length == 36 && id.StartsWith("img-", StringComparison.Ordinal) && id.AsSpan(4).ContainsAnyExcept("0123456789abcdef") is false;
}
