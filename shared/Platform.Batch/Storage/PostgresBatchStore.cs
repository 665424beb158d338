using System.Data.Common;
using Dapper;
using Npgsql;

namespace Platform.Batch.Storage;

/// <summary>Store for the distributed mode: PostgreSQL through one pooled <see cref="NpgsqlDataSource"/>.</summary>
public sealed class PostgresBatchStore : SqlBatchStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _schema;

    /// <param name="schema">Tables live in this schema (created when missing); tests use one schema per run.</param>
    /// <param name="password">Replaces the connection string's password when given (from a secret store).</param>
    public PostgresBatchStore(string connectionString, string schema = "public", string? password = null)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(schema, "^[a-z_][a-z0-9_]{0,62}$"))
            throw new ArgumentException($"Invalid PostgreSQL schema name '{schema}' (lower-case letters, digits, underscore).", nameof(schema));
        _schema = schema;
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema };
        if (!string.IsNullOrEmpty(password)) builder.Password = password;
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    protected override IReadOnlyList<string> SchemaStatements { get; } = Schema("BIGSERIAL PRIMARY KEY", "BYTEA");

    protected override async Task BeforeSchemaAsync(DbConnection connection, DbTransaction tx, CancellationToken cancellationToken)
    {
        // Two processes starting together would race on CREATE TABLE IF NOT EXISTS (unique violation in the catalog).
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(7460501)", transaction: tx, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            $"CREATE SCHEMA IF NOT EXISTS {_schema}", transaction: tx, cancellationToken: cancellationToken));
    }

    protected override Task AddColumnIfMissingAsync(DbConnection connection, DbTransaction tx, string table, string column,
        string definition, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            $"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}", transaction: tx, cancellationToken: cancellationToken));

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
