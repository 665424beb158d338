using Npgsql;

namespace Platform.Batch.Tests.Storage;

/// <summary>
/// Where the PostgreSQL tests find a server: PLATFORM_TEST_POSTGRES, else the cluster scripts/postgres.sh starts.
/// With no server reachable the tests skip with a message, except under CI=true, where they fail.
/// </summary>
public static class PostgresTestServer
{
    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("PLATFORM_TEST_POSTGRES")
        ?? "Host=127.0.0.1;Port=5432;Username=platform;Password=platform;Database=platform;Timeout=5";

    private static readonly Lazy<string?> Unreachable = new(() =>
    {
        try
        {
            using var connection = new NpgsqlConnection(ConnectionString);
            connection.Open();
            return null;
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return ex.Message;
        }
    });

    /// <summary>Skips (or, under CI, fails) the calling test when no server answers.</summary>
    public static void RequireServer()
    {
        if (Unreachable.Value is not { } reason) return;
        var message = $"PostgreSQL not reachable at '{ConnectionString}' ({reason}). Start one with scripts/postgres.sh start " +
                      "or set PLATFORM_TEST_POSTGRES.";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(message + " CI=true: the PostgreSQL tests must run.");
        Skip.If(true, message);
    }

    /// <summary>A fresh schema per test class run so runs never see each other's rows.</summary>
    public static string NewSchema() => "t_" + Guid.NewGuid().ToString("N")[..16];
}
