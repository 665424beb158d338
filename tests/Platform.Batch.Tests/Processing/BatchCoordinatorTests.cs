using System.Text.Json.Nodes;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Platform.Batch.Processing;
using Platform.Contracts.Batch;

namespace Platform.Batch.Tests.Processing;

/// <summary>A clock a test can move forward (completion-window expiry).</summary>
public sealed class ShiftableTime : TimeProvider
{
    public TimeSpan Offset { get; set; }
    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
}

public sealed class BatchCoordinatorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static async Task<List<JsonNode>> ReadLinesAsync(BatchTestHost host, JsonNode batch, string field)
    {
        if (batch[field] is null) return [];
        var text = await host.Http.GetStringAsync($"/v1/files/{batch[field]!.GetValue<string>()}/content");
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
    }

    private static string Input(IEnumerable<string> contents) =>
        string.Join("\n", contents.Select((c, i) => BatchTestHost.Line($"id-{i}-{c}", c)));

    [Fact]
    public async Task ExecuteBatchItem_DeliveredTwice_OneResultPerCustomIdAndCountedOnce()
    {
        await using var host = await BatchTestHost.StartAsync(_dir.File("b.db"));
        host.Handler.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batch = await host.CreateBatchAsync(await host.UploadAsync(Input(Enumerable.Range(0, 8).Select(i => $"m{i}"))));
        var id = batch["id"]!.GetValue<string>();
        await host.WaitForStatusAsync(id, "in_progress");

        // A second copy of every item, as a broker redelivery or a coordinator re-publication would produce.
        var endpoint = await host.Services.GetRequiredService<ISendEndpointProvider>().GetSendEndpoint(new Uri("queue:batch-items"));
        foreach (var item in await host.Store.GetPendingItemsAsync(id, null, default))
            await endpoint.Send(new ExecuteBatchItem(id, item.CustomId, item.LineNumber, "/v1/chat/completions", item.Body, 0));
        host.Handler.Gate.SetResult();

        var done = await host.WaitForStatusAsync(id, "completed");
        Assert.Equal(8, done["request_counts"]!["completed"]!.GetValue<long>());
        var output = await ReadLinesAsync(host, done, "output_file_id");
        Assert.Equal(8, output.Count);
        Assert.Equal(8, output.Select(l => l["custom_id"]!.GetValue<string>()).Distinct().Count());
        var metrics = await host.Http.GetStringAsync("/metrics");
        Assert.Contains("platform_batch_requests_total{status=\"completed\"} 8", metrics);
        Assert.Contains("platform_batches{status=\"completed\"} 1", metrics);
    }

    [Fact]
    public async Task Restart_MidBatch_ResumesFromStoreAndRunsOnlyUnfinishedItems()
    {
        var db = _dir.File("restart.db");
        string id;
        var contents = new[] { "fast-0", "fast-1", "fast-2", "slow-0", "slow-1", "slow-2" };
        await using (var first = await BatchTestHost.StartAsync(db, new() { ["Batch:MaxConcurrentItems"] = "8" }))
        {
            first.Handler.Gate = new TaskCompletionSource();
            first.Handler.BlockPrefix = "slow";
            id = (await first.CreateBatchAsync(await first.UploadAsync(Input(contents))))["id"]!.GetValue<string>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await first.GetBatchAsync(id))["request_counts"]!["completed"]!.GetValue<long>() < 3 && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            Assert.Equal("in_progress", (await first.GetBatchAsync(id))["status"]!.GetValue<string>());
        } // stopped with three items in flight: the in-memory queue loses them

        await using var second = await BatchTestHost.StartAsync(db);
        var done = await second.WaitForStatusAsync(id, "completed");
        Assert.Equal(6, done["request_counts"]!["completed"]!.GetValue<long>());
        var output = await ReadLinesAsync(second, done, "output_file_id");
        Assert.Equal(6, output.Select(l => l["custom_id"]!.GetValue<string>()).Distinct().Count());
        Assert.Equal(6, output.Count);
        Assert.Equal(3, second.Handler.Executions); // the fast ones already had results
    }

    [Fact]
    public async Task Sweep_CompletionWindowPassed_ExpiresWithBatchExpiredErrorsForUnfinishedItems()
    {
        var time = new ShiftableTime();
        await using var host = await BatchTestHost.StartAsync(_dir.File("expire.db"), new() { ["Batch:MaxConcurrentItems"] = "4" }, time: time);
        host.Handler.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Handler.BlockPrefix = "slow";
        var id = (await host.CreateBatchAsync(await host.UploadAsync(Input(["done-0", "slow-1", "slow-2"]))))["id"]!.GetValue<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await host.GetBatchAsync(id))["request_counts"]!["completed"]!.GetValue<long>() < 1 && DateTime.UtcNow < deadline)
            await Task.Delay(50);

        time.Offset = TimeSpan.FromHours(25);
        var expired = await host.WaitForStatusAsync(id, "expired");
        host.Handler.Gate.SetResult();

        Assert.True(expired["expired_at"]!.GetValue<long>() >= expired["expires_at"]!.GetValue<long>());
        Assert.Equal((1L, 2L), (expired["request_counts"]!["completed"]!.GetValue<long>(), expired["request_counts"]!["failed"]!.GetValue<long>()));
        var output = await ReadLinesAsync(host, expired, "output_file_id");
        Assert.Equal(["id-0-done-0"], output.Select(l => l["custom_id"]!.GetValue<string>()));
        var errors = await ReadLinesAsync(host, expired, "error_file_id");
        Assert.Equal(2, errors.Count);
        Assert.All(errors, l =>
        {
            Assert.Null(l["response"]);
            Assert.Equal("batch_expired", l["error"]!["code"]!.GetValue<string>());
        });
    }

    [Fact]
    public async Task ExecuteBatchItemConsumer_LargeBatch_NeverExceedsConcurrencyBudget()
    {
        await using var host = await BatchTestHost.StartAsync(_dir.File("budget.db"), new() { ["Batch:MaxConcurrentItems"] = "3" });
        host.Handler.Delay = TimeSpan.FromMilliseconds(30);
        var id = (await host.CreateBatchAsync(await host.UploadAsync(Input(Enumerable.Range(0, 30).Select(i => $"p{i}")))))["id"]!.GetValue<string>();
        await host.WaitForStatusAsync(id, "completed");
        Assert.InRange(host.Handler.PeakConcurrency, 1, 3);
        Assert.Equal(30, host.Handler.Executions);
    }

    [Fact]
    public async Task RequestCounts_WhileRunning_ShowProgress()
    {
        await using var host = await BatchTestHost.StartAsync(_dir.File("progress.db"), new() { ["Batch:MaxConcurrentItems"] = "4" });
        host.Handler.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Handler.BlockPrefix = "slow";
        var id = (await host.CreateBatchAsync(await host.UploadAsync(Input(["a", "b", "slow"]))))["id"]!.GetValue<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        JsonNode running;
        do running = await host.GetBatchAsync(id);
        while (running["request_counts"]!["completed"]!.GetValue<long>() < 2 && DateTime.UtcNow < deadline);

        Assert.Equal("in_progress", running["status"]!.GetValue<string>());
        Assert.Equal(3, running["request_counts"]!["total"]!.GetValue<long>());
        Assert.Equal(2, running["request_counts"]!["completed"]!.GetValue<long>());
        Assert.Contains("platform_batches{status=\"in_progress\"} 1", await host.Http.GetStringAsync("/metrics"));
        host.Handler.Gate.SetResult();
        await host.WaitForStatusAsync(id, "completed");
    }
}
