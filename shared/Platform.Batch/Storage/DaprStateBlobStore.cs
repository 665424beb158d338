using Dapr.Client;

namespace Platform.Batch.Storage;

/// <summary>
/// <see cref="IBlobStore"/> on a Dapr state store (component Dapr:StateStore, in the chart a state.postgresql
/// component scoped to the gateway): the sidecar's state API with the bytes stored as they are.
/// </summary>
public sealed class DaprStateBlobStore(DaprClient dapr, string storeName) : IBlobStore
{
    public Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
        dapr.SaveByteStateAsync(storeName, key, content, cancellationToken: cancellationToken);

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var content = await dapr.GetByteStateAsync(storeName, key, cancellationToken: cancellationToken);
        return content.IsEmpty ? null : content.ToArray();
    }

    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var exists = await GetAsync(key, cancellationToken) is not null;
        await dapr.DeleteStateAsync(storeName, key, cancellationToken: cancellationToken);
        return exists;
    }
}
