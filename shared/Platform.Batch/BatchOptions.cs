using System.ComponentModel.DataAnnotations;

namespace Platform.Batch;

public enum BatchStoreKind { Sqlite, Postgres }

/// <summary>Batch:FileContentStore: the batch store's own database (its blobs table) or the Dapr state store.</summary>
public enum FileContentStoreKind { Database, Dapr }

/// <summary>Batch API settings, section "Batch"; validated on start.</summary>
public sealed class BatchOptions : IValidatableObject
{
    public const string Section = "Batch";

    /// <summary>SQLite (embedded, all-in-one mode) or PostgreSQL (distributed mode).</summary>
    public BatchStoreKind Store { get; set; } = BatchStoreKind.Sqlite;

    /// <summary>ADO.NET connection string of the store (a SQLite "Data Source=file" or an Npgsql string).</summary>
    public string ConnectionString { get; set; } = "Data Source=data/batch.db";

    /// <summary>
    /// Password that replaces the one in ConnectionString (PostgreSQL): set from the Dapr secret store when Dapr is
    /// enabled, so the connection string itself carries no secret.
    /// </summary>
    public string? Password { get; set; }

    /// <summary>
    /// Where uploaded files and batch output files keep their content: Database (the store's blobs table: SQLite
    /// all-in-one, PostgreSQL with several gateways) or Dapr (the state store <see cref="DaprStateStore"/>, through the
    /// sidecar). Their metadata stays in the database either way.
    /// </summary>
    public FileContentStoreKind FileContentStore { get; set; } = FileContentStoreKind.Database;

    /// <summary>The Dapr state store component for file contents when <see cref="FileContentStore"/> is Dapr.</summary>
    public string DaprStateStore { get; set; } = "platform-state";

    /// <summary>PostgreSQL schema of the tables.</summary>
    public string PostgresSchema { get; set; } = "public";

    /// <summary>Largest accepted upload; bigger ones get 413.</summary>
    [Range(1, 2L * 1024 * 1024 * 1024)] public long MaxFileBytes { get; set; } = 200L * 1024 * 1024;

    /// <summary>Most request lines in one batch input file (OpenAI: 50,000).</summary>
    [Range(1, 1_000_000)] public int MaxRequestsPerBatch { get; set; } = 50_000;

    /// <summary>
    /// The batch concurrency budget: items of all batches generating at once from this process. Interactive chat
    /// requests are not limited by it, so they keep the rest of the workers' sequence slots.
    /// </summary>
    [Range(1, 1024)] public int MaxConcurrentItems { get; set; } = 2;

    /// <summary>How often the coordinator checks expiry, cancellation, stuck items and refreshes the gauges.</summary>
    [Range(0.05, 3600)] public double SweepIntervalSeconds { get; set; } = 5;

    /// <summary>An item dispatched this long ago and still without a result is published again (lost message).</summary>
    [Range(1, 86400)] public double RedispatchAfterSeconds { get; set; } = 600;

    /// <summary>
    /// Exactly one coordinator runs across the gateway replicas sharing a store: the one holding the lease
    /// "batch-coordinator" in the database. It renews every third of this; when it dies another takes over after at
    /// most this long (at once when it stops cleanly and gives the lease up).
    /// </summary>
    [Range(0.3, 600)] public double CoordinatorLeaseSeconds { get; set; } = 6;

    /// <summary>How long an item waits for its model to be served (worker restarting) before it fails with 404.</summary>
    [Range(0, 86400)] public double ModelWaitSeconds { get; set; } = 300;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
            yield return new ValidationResult("Batch:ConnectionString is required.", [nameof(ConnectionString)]);
        if (FileContentStore == FileContentStoreKind.Dapr && string.IsNullOrWhiteSpace(DaprStateStore))
            yield return new ValidationResult("Batch:DaprStateStore is required when Batch:FileContentStore is Dapr.", [nameof(DaprStateStore)]);
    }
}
