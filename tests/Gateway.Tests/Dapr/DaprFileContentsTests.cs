using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Platform.Batch;
using Platform.Batch.Storage;

namespace Gateway.Tests.Dapr;

/// <summary>
/// Batch:FileContentStore = Dapr: the batch store registered by <see cref="BatchApiExtensions.AddBatchApi"/> keeps file
/// contents in the Dapr state store (SaveState / GetState / DeleteState through Dapr.Client against
/// <see cref="FakeDaprSidecar"/>) and only the metadata in its database.
/// </summary>
public sealed class DaprFileContentsTests : IAsyncLifetime
{
    private FakeDaprSidecar _sidecar = null!;
    private readonly string _dir = Directory.CreateTempSubdirectory("dapr-files-").FullName;

    public async Task InitializeAsync() => _sidecar = await FakeDaprSidecar.StartAsync();

    public async Task DisposeAsync()
    {
        await _sidecar.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private IBatchStore Store(string contentStore)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Batch:Store"] = "Sqlite",
            ["Batch:ConnectionString"] = $"Data Source={Path.Combine(_dir, contentStore + ".db")}",
            ["Batch:FileContentStore"] = contentStore,
            ["Batch:DaprStateStore"] = "files-state",
        });
        builder.Services.AddSingleton(_sidecar.Client());
        builder.AddBatchApi();
        return builder.Build().Services.GetRequiredService<IBatchStore>();
    }

    [Fact]
    public async Task InsertFileAsync_DaprContentStore_ContentInStateStoreUntilDeleted()
    {
        var store = Store("Dapr");
        await store.InitializeAsync(default);
        var content = "{\"custom_id\":\"a\"}\n"u8.ToArray();
        await store.InsertFileAsync(new BatchFile { Id = "file-dapr1", Purpose = "batch", Filename = "in.jsonl", Bytes = content.Length, CreatedAt = 1 }, content, default);

        var ((storeName, key), value) = Assert.Single(_sidecar.State);
        Assert.Equal("files-state", storeName);
        Assert.StartsWith("files/file-dapr1/", key);
        Assert.Equal(content, value.ToByteArray());
        Assert.Equal(content, await store.GetFileContentAsync("file-dapr1", default));

        Assert.True(await store.DeleteFileAsync("file-dapr1", default));
        Assert.Empty(_sidecar.State);
    }

    [Fact]
    public async Task InsertFileAsync_DatabaseContentStore_NothingReachesTheSidecar()
    {
        var store = Store("Database");
        await store.InitializeAsync(default);
        await store.InsertFileAsync(new BatchFile { Id = "file-db1", Purpose = "batch", Filename = "in.jsonl", Bytes = 1, CreatedAt = 1 }, "x"u8.ToArray(), default);
        Assert.Empty(_sidecar.State);
        Assert.Equal("x"u8.ToArray(), await store.GetFileContentAsync("file-db1", default));
    }
}
