using System.Text.Json.Nodes;
using Platform.Batch.Tests.Storage;

namespace Platform.Batch.Tests.Batches;

/// <summary>The distributed mode's store: the whole batch flow and a restart against PostgreSQL.</summary>
public sealed class PostgresBatchFlowTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private Dictionary<string, string?> PostgresSettings(string schema) => new()
    {
        ["Batch:Store"] = "Postgres",
        ["Batch:ConnectionString"] = PostgresTestServer.ConnectionString,
        ["Batch:PostgresSchema"] = schema,
    };

    [SkippableFact]
    public async Task Batch_OnPostgres_CompletesAndSurvivesRestart()
    {
        PostgresTestServer.RequireServer();
        var schema = PostgresTestServer.NewSchema();
        string id;
        await using (var first = await BatchTestHost.StartAsync(_dir.File("unused.db"), PostgresSettings(schema)))
        {
            first.Handler.Gate = new TaskCompletionSource();
            first.Handler.BlockPrefix = "slow";
            var input = string.Join("\n", Enumerable.Range(0, 6).Select(i => BatchTestHost.Line($"pg-{i}", i < 4 ? "fast" : "slow")));
            id = (await first.CreateBatchAsync(await first.UploadAsync(input)))["id"]!.GetValue<string>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await first.GetBatchAsync(id))["request_counts"]!["completed"]!.GetValue<long>() < 4 && DateTime.UtcNow < deadline)
                await Task.Delay(50);
        }

        await using var second = await BatchTestHost.StartAsync(_dir.File("unused.db"), PostgresSettings(schema));
        var done = await second.WaitForStatusAsync(id, "completed");
        Assert.Equal(6, done["request_counts"]!["completed"]!.GetValue<long>());
        var output = (await second.Http.GetStringAsync($"/v1/files/{done["output_file_id"]!.GetValue<string>()}/content"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!["custom_id"]!.GetValue<string>()).ToList();
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"pg-{i}"), output);
        Assert.Equal(2, second.Handler.Executions);
        Assert.False(File.Exists(_dir.File("unused.db")));
    }
}
