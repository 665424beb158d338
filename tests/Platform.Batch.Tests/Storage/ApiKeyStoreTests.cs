using Gateway.Security;
using Platform.Batch.Storage;

namespace Platform.Batch.Tests.Storage;

/// <summary>The gateway's API keys in the platform database, asserted on SQLite (all-in-one) and PostgreSQL (distributed).</summary>
public abstract class ApiKeyStoreContractTests
{
    protected abstract Task<IPlatformDatabase> CreateDatabaseAsync();

    private async Task<ApiKeyStore> CreateStoreAsync()
    {
        var store = new ApiKeyStore(await CreateDatabaseAsync(), TimeProvider.System);
        await store.InitializeAsync(default);
        await store.InitializeAsync(default); // idempotent
        return store;
    }

    [SkippableFact]
    public async Task Create_ThenFind_ByTheKeyOnly_UntilRevoked()
    {
        var store = await CreateStoreAsync();
        Assert.Equal(0, await store.CountAsync(default));
        var (record, key) = await store.CreateAsync("acme", "ci", ["tiny", "demo"], 60, 1000, null, default);
        Assert.StartsWith(ApiKeyTokens.KeyPrefix, key, StringComparison.Ordinal);
        Assert.Equal(ApiKeyTokens.Hash(key), record.Hash);

        var found = await store.FindActiveAsync(key, default);
        Assert.Equal(record.Id, found!.Id);
        Assert.Equal("acme", found.Tenant);
        Assert.Equal(new HashSet<string> { "tiny", "demo" }, found.AllowedModels);
        Assert.Equal(60, found.RequestsPerMinute);
        Assert.Null(found.BatchRequestsPerMinute);
        Assert.Null(await store.FindActiveAsync(key + "x", default));
        Assert.Null(await store.FindActiveAsync(record.Hash, default)); // the stored hash is not a key

        Assert.True(await store.RevokeAsync(record.Id, default));
        Assert.Null(await store.FindActiveAsync(key, default));
        Assert.NotNull((await store.GetAsync(record.Id, default))!.RevokedAt);
        Assert.False(await store.RevokeAsync("key_missing", default));
        Assert.Equal(1, await store.CountAsync(default)); // revoked keys still count: the platform stays closed
    }

    [SkippableFact]
    public async Task Keys_AreUniqueAndNeverStored()
    {
        var store = await CreateStoreAsync();
        var keys = new List<string>();
        for (var i = 0; i < 5; i++) keys.Add((await store.CreateAsync("t", $"k{i}", null, null, null, null, default)).Key);
        Assert.Equal(5, keys.Distinct().Count());
        var listed = await store.ListAsync(default);
        Assert.Equal(5, listed.Count);
        Assert.All(listed, r => Assert.DoesNotContain(keys, k => r.Hash == k || r.Prefix == k));
        Assert.All(listed, r => Assert.Null(r.AllowedModels));
    }
}

public sealed class SqliteApiKeyStoreTests : ApiKeyStoreContractTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("api-keys-").FullName;

    protected override async Task<IPlatformDatabase> CreateDatabaseAsync()
    {
        var store = new SqliteBatchStore($"Data Source={Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db")}");
        await store.InitializeAsync(default);
        return store;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}

public sealed class PostgresApiKeyStoreTests : ApiKeyStoreContractTests, IAsyncDisposable
{
    private readonly List<PostgresBatchStore> _stores = [];

    protected override async Task<IPlatformDatabase> CreateDatabaseAsync()
    {
        PostgresTestServer.RequireServer();
        var store = new PostgresBatchStore(PostgresTestServer.ConnectionString, PostgresTestServer.NewSchema());
        _stores.Add(store);
        await store.InitializeAsync(default);
        return store;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var store in _stores) await store.DisposeAsync();
    }
}
