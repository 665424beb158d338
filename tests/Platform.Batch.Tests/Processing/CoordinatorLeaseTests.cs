using Microsoft.Extensions.DependencyInjection;
using Platform.Batch.Processing;
using Platform.Batch.Tests.Storage;

namespace Platform.Batch.Tests.Processing;

/// <summary>
/// Two gateways' batch APIs on one PostgreSQL store: exactly one coordinator is active, a batch created on the other
/// completes, and when the active one stops the other takes over and finishes new work, every custom_id once.
/// </summary>
public sealed class CoordinatorLeaseTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private readonly List<BatchTestHost> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    private async Task<BatchTestHost> StartAsync(string schema, string name) =>
        Add(await BatchTestHost.StartAsync(_dir.File(name + ".db"), new()
        {
            ["Batch:Store"] = "Postgres",
            ["Batch:ConnectionString"] = PostgresTestServer.ConnectionString,
            ["Batch:PostgresSchema"] = schema,
            ["Batch:CoordinatorLeaseSeconds"] = "1.5",
        }));

    private BatchTestHost Add(BatchTestHost host) { _hosts.Add(host); return host; }

    private static bool Leads(BatchTestHost host) => host.Services.GetRequiredService<BatchCoordinatorService>().IsLeader;

    private static async Task<BatchTestHost> WaitForLeaderAsync(params BatchTestHost[] hosts)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var leaders = hosts.Where(Leads).ToList();
            Assert.True(leaders.Count <= 1, "two coordinators active at once");
            if (leaders.Count == 1) return leaders[0];
            await Task.Delay(50);
        }
        Assert.Fail("no coordinator took the lease within 30 s");
        return null!;
    }

    [SkippableFact]
    public async Task TwoReplicas_OneCoordinator_TakeoverAfterStopCompletesEveryItemOnce()
    {
        PostgresTestServer.RequireServer();
        var schema = PostgresTestServer.NewSchema();
        var a = await StartAsync(schema, "a");
        var b = await StartAsync(schema, "b");
        var leader = await WaitForLeaderAsync(a, b);
        var follower = leader == a ? b : a;
        // Stays single for several lease periods.
        for (var i = 0; i < 20; i++) { await Task.Delay(150); Assert.True(Leads(leader) && !Leads(follower)); }

        // Created through the replica that does not coordinate: the coordinator finds it in the store.
        var first = await follower.CreateBatchAsync(await follower.UploadAsync(string.Join("\n", Enumerable.Range(0, 6).Select(i => BatchTestHost.Line($"r{i}", $"m{i}")))));
        var done = await follower.WaitForStatusAsync(first["id"]!.GetValue<string>(), "completed", "failed");
        Assert.Equal("completed", done["status"]!.GetValue<string>());
        Assert.Equal(6, done["request_counts"]!["completed"]!.GetValue<long>());

        // The coordinator stops (releases the lease); the other takes over and runs a new batch to the end.
        await leader.DisposeAsync();
        _hosts.Remove(leader);
        Assert.Same(follower, await WaitForLeaderAsync(follower));
        var second = await follower.CreateBatchAsync(await follower.UploadAsync(string.Join("\n", Enumerable.Range(0, 5).Select(i => BatchTestHost.Line($"s{i}", $"n{i}")))));
        var secondDone = await follower.WaitForStatusAsync(second["id"]!.GetValue<string>(), "completed", "failed");
        Assert.Equal("completed", secondDone["status"]!.GetValue<string>());
        var results = await follower.Store.GetResultsAsync(second["id"]!.GetValue<string>(), default);
        Assert.Equal(["s0", "s1", "s2", "s3", "s4"], results.Select(r => r.CustomId).Order());
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts) await host.DisposeAsync();
        _dir.Dispose();
    }
}
