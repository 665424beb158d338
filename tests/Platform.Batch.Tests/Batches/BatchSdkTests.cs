#pragma warning disable OPENAI001 // BatchClient and SizeInBytesLong are marked experimental in the SDK.
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Batch;
using OpenAI.Files;

namespace Platform.Batch.Tests.Batches;

/// <summary>The official OpenAI .NET SDK (2.15.0) against the batch API: upload, create, poll, download.</summary>
public sealed class BatchSdkTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private BatchTestHost _host = null!;

    public async Task InitializeAsync() => _host = await BatchTestHost.StartAsync(_dir.File("batch.db"));

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task CreateBatch_SdkUploadPollDownload_EveryCustomIdOnceInOutputOrErrorFile()
    {
        var client = _host.OpenAi();
        var files = client.GetOpenAIFileClient();
        var batches = client.GetBatchClient();

        var lines = Enumerable.Range(0, 20).Select(i => BatchTestHost.Line($"req-{i}", $"hello {i}")).ToList();
        lines.Add(BatchTestHost.Line("req-bad-model", "x", model: "missing-model"));
        lines.Add(BatchTestHost.Line("req-flaky", "flaky"));
        var input = await files.UploadFileAsync(BinaryData.FromString(string.Join("\n", lines) + "\n"), "input.jsonl", FileUploadPurpose.Batch);
        Assert.Equal(FilePurpose.Batch, input.Value.Purpose);

        var create = BinaryContent.Create(BinaryData.FromObjectAsJson(new
        {
            input_file_id = input.Value.Id, endpoint = "/v1/chat/completions", completion_window = "24h",
            metadata = new Dictionary<string, string> { ["team"] = "search" },
        }));
        var operation = await batches.CreateBatchAsync(create, waitUntilCompleted: false);

        JsonNode batch;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        do
        {
            await Task.Delay(100);
            var result = await operation.GetBatchAsync(new RequestOptions());
            batch = JsonNode.Parse(result.GetRawResponse().Content.ToString())!;
        } while (batch["status"]!.GetValue<string>() is not ("completed" or "failed") && DateTime.UtcNow < deadline);

        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        Assert.Equal(operation.BatchId, batch["id"]!.GetValue<string>());
        Assert.Equal("search", batch["metadata"]!["team"]!.GetValue<string>());
        Assert.Equal(22, batch["request_counts"]!["total"]!.GetValue<long>());
        Assert.Equal(21, batch["request_counts"]!["completed"]!.GetValue<long>());
        Assert.Equal(1, batch["request_counts"]!["failed"]!.GetValue<long>());
        foreach (var stamp in new[] { "created_at", "in_progress_at", "finalizing_at", "completed_at", "expires_at" })
            Assert.True(batch[stamp]!.GetValue<long>() > 0, stamp);

        var output = (await files.DownloadFileAsync(batch["output_file_id"]!.GetValue<string>())).Value.ToString();
        var errors = (await files.DownloadFileAsync(batch["error_file_id"]!.GetValue<string>())).Value.ToString();
        var outputLines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        var errorLines = errors.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();

        var ids = outputLines.Concat(errorLines).Select(l => l["custom_id"]!.GetValue<string>()).ToList();
        Assert.Equal(22, ids.Count);
        Assert.Equal(22, ids.Distinct().Count());
        var seventh = outputLines.Single(l => l["custom_id"]!.GetValue<string>() == "req-7");
        Assert.Equal(200, seventh["response"]!["status_code"]!.GetValue<int>());
        Assert.StartsWith("req_", seventh["response"]!["request_id"]!.GetValue<string>());
        Assert.StartsWith("batch_req_", seventh["id"]!.GetValue<string>());
        Assert.Equal("echo: hello 7", seventh["response"]!["body"]!["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        Assert.Null(seventh["error"]);
        Assert.Contains(outputLines, l => l["custom_id"]!.GetValue<string>() == "req-flaky");

        var failed = Assert.Single(errorLines);
        Assert.Equal("req-bad-model", failed["custom_id"]!.GetValue<string>());
        Assert.Equal(404, failed["response"]!["status_code"]!.GetValue<int>());
        Assert.Equal("model_not_found", failed["response"]!["body"]!["error"]!["code"]!.GetValue<string>());

        // Output files are listed and retrievable like any other file.
        var outputFile = await files.GetFileAsync(batch["output_file_id"]!.GetValue<string>());
        Assert.Equal(Encoding.UTF8.GetByteCount(output), outputFile.Value.SizeInBytesLong);
        var listed = await files.GetFilesAsync();
        Assert.Contains(listed.Value, f => f.Id == input.Value.Id);
        Assert.Contains(listed.Value, f => f.Id == outputFile.Value.Id);
    }

    [Fact]
    public async Task CancelBatch_Sdk_CancelsAndKeepsFinishedResults()
    {
        _host.Handler.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var client = _host.OpenAi();
        var input = await client.GetOpenAIFileClient().UploadFileAsync(
            BinaryData.FromString(string.Join("\n", Enumerable.Range(0, 10).Select(i => BatchTestHost.Line($"c-{i}", "x")))),
            "in.jsonl", FileUploadPurpose.Batch);
        var operation = await client.GetBatchClient().CreateBatchAsync(BinaryContent.Create(BinaryData.FromObjectAsJson(new
        {
            input_file_id = input.Value.Id, endpoint = "/v1/chat/completions", completion_window = "24h",
        })), waitUntilCompleted: false);
        await _host.WaitForStatusAsync(operation.BatchId, "in_progress");

        var cancel = await operation.CancelAsync(new RequestOptions());
        var cancelling = JsonNode.Parse(cancel.GetRawResponse().Content.ToString())!;
        Assert.Equal("cancelling", cancelling["status"]!.GetValue<string>());
        Assert.True(cancelling["cancelling_at"]!.GetValue<long>() > 0);
        _host.Handler.Gate.SetResult();

        var cancelled = await _host.WaitForStatusAsync(operation.BatchId, "cancelled");
        Assert.True(cancelled["cancelled_at"]!.GetValue<long>() > 0);
        Assert.True(cancelled["request_counts"]!["completed"]!.GetValue<long>() < 10);
    }
}
