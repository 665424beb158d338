using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Platform.Batch.Storage;

/// <summary>Embedded store for the all-in-one mode: one SQLite file in WAL mode (readers never block the writer).</summary>
public sealed class SqliteBatchStore(string connectionString) : SqlBatchStore
{
    private readonly string _connectionString = Normalize(connectionString);
    private readonly SemaphoreSlim _writer = new(1, 1);

    private static string Normalize(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (string.IsNullOrWhiteSpace(builder.DataSource))
            throw new ArgumentException("The SQLite connection string has no Data Source (the database file).", nameof(connectionString));
        // SQLite retries a locked database until this many seconds pass (several connections write concurrently).
        if (builder.DefaultTimeout < 30) builder.DefaultTimeout = 30;
        var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        return builder.ToString();
    }

    protected override IReadOnlyList<string> SchemaStatements { get; } =
        Schema("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB");

    public override async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using (var connection = new SqliteConnection(_connectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var pragma = connection.CreateCommand();
            // WAL is a property of the database file: set once, persists.
            pragma.CommandText = "PRAGMA journal_mode=WAL;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }
        await base.InitializeAsync(cancellationToken);
    }

    protected override async Task AddColumnIfMissingAsync(DbConnection connection, DbTransaction tx, string table, string column,
        string definition, CancellationToken cancellationToken)
    {
        var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM pragma_table_info(@table) WHERE name = @column", new { table, column }, tx,
            cancellationToken: cancellationToken));
        if (exists == 0)
            await connection.ExecuteAsync(new CommandDefinition(
                $"ALTER TABLE {table} ADD COLUMN {column} {definition}", transaction: tx, cancellationToken: cancellationToken));
    }

    protected override async ValueTask<IDisposable?> EnterWriteAsync(CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken);
        return new Release(_writer);
    }

    private sealed class Release(SemaphoreSlim semaphore) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) semaphore.Release();
        }
    }

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        // FULL sync: a committed result survives a power cut, not only a process crash.
        pragma.CommandText = "PRAGMA synchronous=FULL;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }
}
