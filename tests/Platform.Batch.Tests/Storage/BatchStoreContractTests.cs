using Platform.Batch.Storage;

namespace Platform.Batch.Tests.Storage;

/// <summary>The same behaviour asserted against every <see cref="IBatchStore"/> implementation.</summary>
public abstract class BatchStoreContractTests
{
    /// <summary>Returns an initialized, empty store (or skips when its server is missing); file contents in
    /// <paramref name="fileContents"/> when given, else in the store's own blobs table.</summary>
    protected abstract Task<IBatchStore> CreateStoreAsync(IBlobStore? fileContents = null);

    /// <summary>A blob store in this process's memory: stands for the Dapr state store, whose calls are tested against a
    /// fake sidecar in the gateway's Dapr contract tests.</summary>
    private sealed class MemoryBlobs : IBlobStore
    {
        public System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> Items { get; } = new();
        public Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) { Items[key] = content.ToArray(); return Task.CompletedTask; }
        public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken) => Task.FromResult(Items.TryGetValue(key, out var v) ? v : null);
        public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken) => Task.FromResult(Items.TryRemove(key, out _));
    }

    [SkippableFact]
    public async Task FileContents_SeparateBlobStore_ContentLivesThereUntilDeleted()
    {
        var blobs = new MemoryBlobs();
        var store = await CreateStoreAsync(blobs);
        var content = "{\"line\":1}\n"u8.ToArray();
        await store.InsertFileAsync(new BatchFile { Id = "file-b1", Purpose = "batch", Filename = "in.jsonl", Bytes = content.Length, CreatedAt = 1 }, content, default);

        var (key, stored) = Assert.Single(blobs.Items);
        Assert.StartsWith("files/file-b1/", key);
        Assert.Equal(content, stored);
        Assert.Equal(content, await store.GetFileContentAsync("file-b1", default));
        // The database's own blobs table holds none of it.
        Assert.Null(await ((IBlobStore)store).GetAsync(key, default));

        Assert.True(await store.DeleteFileAsync("file-b1", default));
        Assert.Empty(blobs.Items);
        Assert.Null(await store.GetFileContentAsync("file-b1", default));
    }

    [SkippableFact]
    public async Task TryInsertFileAsync_SameIdTwiceWithSeparateBlobStore_KeepsFirstContentAndLeavesNoOrphan()
    {
        var blobs = new MemoryBlobs();
        var store = await CreateStoreAsync(blobs);
        var file = new BatchFile { Id = "file-out2", Purpose = "batch_output", Filename = "o.jsonl", Bytes = 1, CreatedAt = 1 };
        Assert.True(await store.TryInsertFileAsync(file, "a"u8.ToArray(), default));
        Assert.False(await store.TryInsertFileAsync(file, "b"u8.ToArray(), default));
        Assert.Equal("a"u8.ToArray(), await store.GetFileContentAsync("file-out2", default));
        Assert.Single(blobs.Items);
    }

    [SkippableFact]
    public async Task DeleteFileAsync_OtherTenant_KeepsTheContent()
    {
        var blobs = new MemoryBlobs();
        var store = await CreateStoreAsync(blobs);
        await store.InsertFileAsync(new BatchFile { Id = "file-tc", Purpose = "batch", Filename = "a", Bytes = 1, CreatedAt = 1, Tenant = "a" }, "a"u8.ToArray(), default);
        Assert.False(await store.DeleteFileAsync("file-tc", default, "b"));
        Assert.Single(blobs.Items);
        Assert.Equal("a"u8.ToArray(), await store.GetFileContentAsync("file-tc", default, "a"));
    }

    private static BatchJob NewBatch(string id, long total = 3) => new()
    {
        Id = id, Endpoint = "/v1/chat/completions", InputFileId = "file-in", CompletionWindow = "24h",
        Status = BatchStatus.Validating, CreatedAt = 1000, ExpiresAt = 1000 + 86400, Total = total,
        MetadataJson = """{"team":"a"}""",
    };

    private static BatchItem Item(string batchId, string customId, long line) =>
        new() { BatchId = batchId, CustomId = customId, LineNumber = line, Body = $$"""{"n":{{line}}}""" };

    private static BatchItemResult Result(string batchId, string customId, long line, long status = 200, string requestId = "req") => new()
    {
        BatchId = batchId, CustomId = customId, LineNumber = line, ResultId = "batch_req_" + customId, RequestId = requestId,
        StatusCode = status, ResponseBody = status == 200 ? """{"ok":true}""" : """{"error":{"message":"bad"}}""", CreatedAt = 2000,
    };

    [SkippableFact]
    public async Task InsertFileAsync_ThenGet_RoundTripsMetadataAndContent()
    {
        var store = await CreateStoreAsync();
        var content = "{\"a\":1}\n"u8.ToArray();
        await store.InsertFileAsync(new BatchFile { Id = "file-1", Purpose = "batch", Filename = "in.jsonl", Bytes = content.Length, CreatedAt = 5 }, content, default);

        var file = await store.GetFileAsync("file-1", default);
        Assert.NotNull(file);
        Assert.Equal(("batch", "in.jsonl", content.Length, 5L), (file.Purpose, file.Filename, file.Bytes, file.CreatedAt));
        Assert.Equal(content, await store.GetFileContentAsync("file-1", default));
        Assert.Null(await store.GetFileAsync("file-missing", default));
        Assert.Null(await store.GetFileContentAsync("file-missing", default));
    }

    [SkippableFact]
    public async Task TryInsertFileAsync_SameIdTwice_SecondReturnsFalseAndKeepsFirst()
    {
        var store = await CreateStoreAsync();
        var file = new BatchFile { Id = "file-out", Purpose = "batch_output", Filename = "o.jsonl", Bytes = 1, CreatedAt = 1 };
        Assert.True(await store.TryInsertFileAsync(file, "a"u8.ToArray(), default));
        Assert.False(await store.TryInsertFileAsync(file, "b"u8.ToArray(), default));
        Assert.Equal("a"u8.ToArray(), await store.GetFileContentAsync("file-out", default));
    }

    [SkippableFact]
    public async Task ListFilesAsync_WithPurposeAndCursor_PagesNewestFirst()
    {
        var store = await CreateStoreAsync();
        for (var i = 1; i <= 5; i++)
            await store.InsertFileAsync(new BatchFile { Id = $"file-{i}", Purpose = i == 3 ? "batch_output" : "batch", Filename = "f", Bytes = 1, CreatedAt = i }, "x"u8.ToArray(), default);

        var first = await store.ListFilesAsync("batch", null, 2, default);
        Assert.Equal(["file-5", "file-4"], first.Select(f => f.Id));
        var second = await store.ListFilesAsync("batch", "file-4", 10, default);
        Assert.Equal(["file-2", "file-1"], second.Select(f => f.Id));
        Assert.Equal(5, (await store.ListFilesAsync(null, null, 100, default)).Count);
    }

    [SkippableFact]
    public async Task DeleteFileAsync_ExistingThenMissing_ReturnsTrueThenFalse()
    {
        var store = await CreateStoreAsync();
        await store.InsertFileAsync(new BatchFile { Id = "file-d", Purpose = "batch", Filename = "f", Bytes = 1, CreatedAt = 1 }, "x"u8.ToArray(), default);
        Assert.True(await store.DeleteFileAsync("file-d", default));
        Assert.False(await store.DeleteFileAsync("file-d", default));
        Assert.Null(await store.GetFileAsync("file-d", default));
    }

    [SkippableFact]
    public async Task TryUpdateBatchAsync_ExpectedStatusMatches_UpdatesElseReturnsFalse()
    {
        var store = await CreateStoreAsync();
        var batch = NewBatch("batch_u");
        await store.InsertBatchAsync(batch, default);

        Assert.True(await store.TryUpdateBatchAsync(batch with { Status = BatchStatus.InProgress, InProgressAt = 1001 }, BatchStatus.Validating, default));
        Assert.False(await store.TryUpdateBatchAsync(batch with { Status = BatchStatus.Failed, FailedAt = 1002 }, BatchStatus.Validating, default));

        var stored = await store.GetBatchAsync("batch_u", default);
        Assert.NotNull(stored);
        Assert.Equal(BatchStatus.InProgress, stored.Status);
        Assert.Equal(1001, stored.InProgressAt);
        Assert.Null(stored.FailedAt);
        Assert.Equal("""{"team":"a"}""", stored.MetadataJson);
    }

    [SkippableFact]
    public async Task ListBatchesAsync_AfterCursor_PagesNewestFirst()
    {
        var store = await CreateStoreAsync();
        foreach (var id in new[] { "batch_a", "batch_b", "batch_c" }) await store.InsertBatchAsync(NewBatch(id), default);

        Assert.Equal(["batch_c", "batch_b"], (await store.ListBatchesAsync(null, 2, default)).Select(b => b.Id));
        Assert.Equal(["batch_a"], (await store.ListBatchesAsync("batch_b", 2, default)).Select(b => b.Id));
        var counts = await store.CountBatchesByStatusAsync(default);
        Assert.Equal(3, counts[BatchStatus.Validating]);
        Assert.Equal(3, (await store.ListBatchesByStatusAsync([BatchStatus.Validating, BatchStatus.InProgress], default)).Count);
        Assert.Empty(await store.ListBatchesByStatusAsync([BatchStatus.Completed], default));
    }

    [SkippableFact]
    public async Task InsertItemsAsync_Twice_KeepsOneRowPerCustomId()
    {
        var store = await CreateStoreAsync();
        await store.InsertBatchAsync(NewBatch("batch_i"), default);
        BatchItem[] items = [Item("batch_i", "a", 1), Item("batch_i", "b", 2), Item("batch_i", "c", 3)];
        await store.InsertItemsAsync(items, default);
        await store.InsertItemsAsync(items, default);

        var pending = await store.GetPendingItemsAsync("batch_i", null, default);
        Assert.Equal(["a", "b", "c"], pending.Select(i => i.CustomId));
        Assert.Equal("""{"n":2}""", pending[1].Body);
    }

    [SkippableFact]
    public async Task TryRecordResultAsync_DuplicateDelivery_KeepsFirstResultAndCountsOnce()
    {
        var store = await CreateStoreAsync();
        await store.InsertBatchAsync(NewBatch("batch_r"), default);
        await store.InsertItemsAsync([Item("batch_r", "a", 1), Item("batch_r", "b", 2), Item("batch_r", "c", 3)], default);

        Assert.True(await store.TryRecordResultAsync(Result("batch_r", "a", 1, requestId: "first"), default));
        Assert.False(await store.TryRecordResultAsync(Result("batch_r", "a", 1, requestId: "second"), default));
        Assert.True(await store.TryRecordResultAsync(Result("batch_r", "c", 3, status: 400), default));

        var batch = await store.GetBatchAsync("batch_r", default);
        Assert.Equal((1L, 1L), (batch!.Completed, batch.Failed));
        var results = await store.GetResultsAsync("batch_r", default);
        Assert.Equal(["a", "c"], results.Select(r => r.CustomId));
        Assert.Equal("first", results[0].RequestId);
        Assert.True(results[0].Succeeded);
        Assert.False(results[1].Succeeded);
        Assert.True(await store.HasResultAsync("batch_r", "a", default));
        Assert.False(await store.HasResultAsync("batch_r", "b", default));
        Assert.Equal(["b"], (await store.GetPendingItemsAsync("batch_r", null, default)).Select(i => i.CustomId));
    }

    [SkippableFact]
    public async Task TryRecordResultAsync_ConcurrentDuplicates_ExactlyOneWins()
    {
        var store = await CreateStoreAsync();
        await store.InsertBatchAsync(NewBatch("batch_c", total: 1), default);
        await store.InsertItemsAsync([Item("batch_c", "x", 1)], default);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Task.Run(() => store.TryRecordResultAsync(Result("batch_c", "x", 1, requestId: $"r{i}"), default))));

        Assert.Equal(1, outcomes.Count(o => o));
        Assert.Single(await store.GetResultsAsync("batch_c", default));
        Assert.Equal(1, (await store.GetBatchAsync("batch_c", default))!.Completed);
    }

    [SkippableFact]
    public async Task GetPendingItemsAsync_DispatchedBefore_ReturnsOnlyStaleOrNeverDispatched()
    {
        var store = await CreateStoreAsync();
        await store.InsertBatchAsync(NewBatch("batch_p"), default);
        await store.InsertItemsAsync([Item("batch_p", "a", 1), Item("batch_p", "b", 2), Item("batch_p", "c", 3)], default);
        await store.MarkDispatchedAsync("batch_p", ["a"], 100, default);
        await store.MarkDispatchedAsync("batch_p", ["b"], 500, default);

        Assert.Equal(["a", "c"], (await store.GetPendingItemsAsync("batch_p", 200, default)).Select(i => i.CustomId));
        Assert.Equal(100, (await store.GetPendingItemsAsync("batch_p", null, default))[0].DispatchedAt);
    }

    [SkippableFact]
    public async Task TryAcquireLeaseAsync_HeldByAnother_RefusedUntilItExpires()
    {
        var store = await CreateStoreAsync();
        var t0 = DateTimeOffset.FromUnixTimeSeconds(1_000_000);
        var ttl = TimeSpan.FromSeconds(5);
        Assert.True(await store.TryAcquireLeaseAsync("coord", "a", t0, ttl, default));
        Assert.False(await store.TryAcquireLeaseAsync("coord", "b", t0.AddSeconds(1), ttl, default));
        Assert.True(await store.TryAcquireLeaseAsync("coord", "a", t0.AddSeconds(4), ttl, default));    // renewal: now until t0+9
        Assert.False(await store.TryAcquireLeaseAsync("coord", "b", t0.AddSeconds(8), ttl, default));
        Assert.True(await store.TryAcquireLeaseAsync("coord", "b", t0.AddSeconds(9), ttl, default));    // a stopped renewing
        Assert.False(await store.TryAcquireLeaseAsync("coord", "a", t0.AddSeconds(10), ttl, default));
        Assert.True(await store.TryAcquireLeaseAsync("other", "a", t0.AddSeconds(10), ttl, default));   // leases are per name
    }

    [SkippableFact]
    public async Task ReleaseLeaseAsync_ByHolder_LetsAnotherTakeItAtOnce()
    {
        var store = await CreateStoreAsync();
        var t0 = DateTimeOffset.FromUnixTimeSeconds(2_000_000);
        Assert.True(await store.TryAcquireLeaseAsync("coord", "a", t0, TimeSpan.FromMinutes(1), default));
        await store.ReleaseLeaseAsync("coord", "b", default); // not the holder: no effect
        Assert.False(await store.TryAcquireLeaseAsync("coord", "b", t0, TimeSpan.FromMinutes(1), default));
        await store.ReleaseLeaseAsync("coord", "a", default);
        Assert.True(await store.TryAcquireLeaseAsync("coord", "b", t0, TimeSpan.FromMinutes(1), default));
    }

    [SkippableFact]
    public async Task BlobStore_PutGetDelete_RoundTripsBytes()
    {
        var blobs = (IBlobStore)await CreateStoreAsync();
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0, 1, 2, 255 };
        Assert.Null(await blobs.GetAsync("images/x", default));
        await blobs.PutAsync("images/x", png, default);
        Assert.Equal(png, await blobs.GetAsync("images/x", default));
        await blobs.PutAsync("images/x", new byte[] { 7 }, default);
        Assert.Equal(new byte[] { 7 }, await blobs.GetAsync("images/x", default));
        Assert.True(await blobs.DeleteAsync("images/x", default));
        Assert.False(await blobs.DeleteAsync("images/x", default));
        Assert.Null(await blobs.GetAsync("images/x", default));
    }

    [SkippableFact]
    public async Task Tenant_ReadsAndDeletes_SeeOnlyThatTenantsRows()
    {
        var store = await CreateStoreAsync();
        await store.InsertFileAsync(new BatchFile { Id = "file-ta", Purpose = "batch", Filename = "a", Bytes = 1, CreatedAt = 1, Tenant = "a" }, "a"u8.ToArray(), default);
        await store.InsertFileAsync(new BatchFile { Id = "file-tb", Purpose = "batch", Filename = "b", Bytes = 1, CreatedAt = 2, Tenant = "b" }, "b"u8.ToArray(), default);
        await store.InsertBatchAsync(NewBatch("batch_ta") with { Tenant = "a" }, default);

        Assert.Equal("a", (await store.GetFileAsync("file-ta", default, "a"))!.Tenant);
        Assert.Null(await store.GetFileAsync("file-ta", default, "b"));
        Assert.Null(await store.GetFileContentAsync("file-ta", default, "b"));
        Assert.Equal(["file-tb"], (await store.ListFilesAsync(null, null, 10, default, "b")).Select(f => f.Id));
        Assert.False(await store.DeleteFileAsync("file-ta", default, "b"));
        Assert.NotNull(await store.GetFileAsync("file-ta", default));
        Assert.Equal("a", (await store.GetBatchAsync("batch_ta", default, "a"))!.Tenant);
        Assert.Null(await store.GetBatchAsync("batch_ta", default, "b"));
        Assert.Empty(await store.ListBatchesAsync(null, 10, default, "b"));
        // No tenant (the coordinator) reaches every row; the open tenant ("") only its own.
        Assert.Equal(2, (await store.ListFilesAsync(null, null, 10, default)).Count);
        Assert.Empty(await store.ListFilesAsync(null, null, 10, default, ""));
    }
}

public sealed class SqliteBatchStoreTests : BatchStoreContractTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("batch-store-").FullName;

    protected override async Task<IBatchStore> CreateStoreAsync(IBlobStore? fileContents = null)
    {
        var store = new SqliteBatchStore($"Data Source={Path.Combine(_directory, "batch.db")}") { FileContents = fileContents };
        await store.InitializeAsync(default);
        return store;
    }

    [Fact]
    public async Task InitializeAsync_ReopenedFile_KeepsCommittedRows()
    {
        var path = Path.Combine(_directory, "durable.db");
        var first = new SqliteBatchStore($"Data Source={path}");
        await first.InitializeAsync(default);
        await first.InsertFileAsync(new BatchFile { Id = "file-k", Purpose = "batch", Filename = "f", Bytes = 1, CreatedAt = 1 }, "x"u8.ToArray(), default);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var second = new SqliteBatchStore($"Data Source={path}");
        await second.InitializeAsync(default);
        Assert.NotNull(await second.GetFileAsync("file-k", default));
    }

    [Fact]
    public async Task InitializeAsync_DatabaseFromBeforeTenants_AddsTheColumnAndKeepsRowsInTheOpenTenant()
    {
        var path = Path.Combine(_directory, "old.db");
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            await connection.OpenAsync();
            await using var create = connection.CreateCommand();
            create.CommandText =
                "CREATE TABLE batch_files (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, purpose TEXT NOT NULL, " +
                "filename TEXT NOT NULL, bytes BIGINT NOT NULL, created_at BIGINT NOT NULL, content BLOB NOT NULL);" +
                "INSERT INTO batch_files (id, purpose, filename, bytes, created_at, content) VALUES ('file-old', 'batch', 'f', 1, 1, x'41');";
            await create.ExecuteNonQueryAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var store = new SqliteBatchStore($"Data Source={path}");
        await store.InitializeAsync(default);
        await store.InitializeAsync(default); // idempotent
        Assert.Equal("", (await store.GetFileAsync("file-old", default, ""))!.Tenant);
        Assert.Null(await store.GetFileAsync("file-old", default, "a"));
        // Its content stays inline in the row (no content key) and is still read.
        Assert.Equal("A"u8.ToArray(), await store.GetFileContentAsync("file-old", default));
        Assert.True(await store.DeleteFileAsync("file-old", default));
    }

    [Fact]
    public void Constructor_NoDataSource_ThrowsNamingTheProblem()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SqliteBatchStore("Mode=ReadWrite"));
        Assert.Contains("Data Source", ex.Message);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}

public sealed class PostgresBatchStoreTests : BatchStoreContractTests, IAsyncDisposable
{
    private readonly List<PostgresBatchStore> _stores = [];

    protected override async Task<IBatchStore> CreateStoreAsync(IBlobStore? fileContents = null)
    {
        PostgresTestServer.RequireServer();
        var store = new PostgresBatchStore(PostgresTestServer.ConnectionString, PostgresTestServer.NewSchema()) { FileContents = fileContents };
        _stores.Add(store);
        await store.InitializeAsync(default);
        return store;
    }

    [Fact]
    public void Constructor_InvalidSchemaName_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new PostgresBatchStore(PostgresTestServer.ConnectionString, "x; DROP TABLE y"));
        Assert.Contains("schema", ex.Message);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var store in _stores) await store.DisposeAsync();
    }
}
