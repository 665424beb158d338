using Platform.Contracts.Events;
using Platform.ServiceDefaults.Dapr;
using System.Text;
using System.Text.Json.Nodes;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Batch.Batches;
using Platform.Batch.Files;
using Platform.Batch.Storage;
using Platform.Contracts.Batch;

namespace Platform.Batch.Processing;

/// <summary>
/// Moves batches through their lifecycle using only the store as memory, so any instance can pick up after a crash:
/// validate the input file and store the items, publish items to the durable queue, finalize the output and error
/// files once every custom_id has a result, and carry out cancellation and expiry. Every transition is a
/// compare-and-set on the stored status, so concurrent or repeated calls are harmless.
/// </summary>
public sealed class BatchCoordinator(
    IBatchStore store,
    IEnumerable<IBatchEndpointHandler> handlers,
    ISendEndpointProvider sendEndpoints,
    BatchMetrics metrics,
    IOptions<BatchOptions> options,
    TimeProvider time,
    IPlatformEvents events,
    ILogger<BatchCoordinator> logger)
{
    public const string ItemsQueue = "batch-items";
    private static readonly Uri ItemsAddress = new($"queue:{ItemsQueue}");
    private const int PublishChunk = 200;

    private readonly System.Threading.Channels.Channel<string> _created =
        System.Threading.Channels.Channel.CreateUnbounded<string>();

    private long Now => time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Asks the background service to validate a new batch now rather than at the next sweep.</summary>
    public void NotifyCreated(string batchId) => _created.Writer.TryWrite(batchId);

    internal System.Threading.Channels.ChannelReader<string> Created => _created.Reader;

    public IBatchEndpointHandler? FindHandler(string endpoint) => handlers.FirstOrDefault(h => h.Endpoint == endpoint);

    public IReadOnlyList<string> Endpoints => handlers.Select(h => h.Endpoint).ToList();

    /// <summary>validating -> in_progress (items stored and published) or failed (errors listed by line).</summary>
    public async Task ValidateAndStartAsync(string batchId, CancellationToken cancellationToken)
    {
        var batch = await store.GetBatchAsync(batchId, cancellationToken);
        if (batch is null || batch.Status != BatchStatus.Validating) return;

        IReadOnlyList<BatchValidationError> errors;
        IReadOnlyList<BatchItem> items = [];
        var content = await store.GetFileContentAsync(batch.InputFileId, cancellationToken);
        var handler = FindHandler(batch.Endpoint);
        if (content is null)
            errors = [new BatchValidationError("invalid_file", $"The input file '{batch.InputFileId}' no longer exists.", "input_file_id", null)];
        else if (handler is null)
            errors = [new BatchValidationError("invalid_endpoint", $"The endpoint '{batch.Endpoint}' is not served.", "endpoint", null)];
        else
            (items, errors) = new BatchInputValidator(handler, options.Value.MaxRequestsPerBatch).Validate(batch.Id, content);

        if (errors.Count > 0)
        {
            var failed = batch with { Status = BatchStatus.Failed, FailedAt = Now, ErrorsJson = BatchInputValidator.ToJson(errors) };
            if (await store.TryUpdateBatchAsync(failed, BatchStatus.Validating, cancellationToken))
            {
                logger.LogInformation("Batch {BatchId} failed validation with {Count} error(s); first: line {Line} {Code}",
                    batchId, errors.Count, errors[0].Line, errors[0].Code);
                await events.PublishAsync(PlatformTopics.BatchFailed, new BatchFailed(failed.Id, failed.Endpoint, 0, 0, 0, null, null,
                    time.GetUtcNow()), cancellationToken);
            }
            await RefreshGaugesAsync(cancellationToken);
            return;
        }

        await store.InsertItemsAsync(items, cancellationToken);
        var started = batch with { Status = BatchStatus.InProgress, InProgressAt = Now, Total = items.Count };
        if (!await store.TryUpdateBatchAsync(started, BatchStatus.Validating, cancellationToken)) return;
        logger.LogInformation("Batch {BatchId} in progress with {Total} request(s)", batchId, items.Count);
        await RefreshGaugesAsync(cancellationToken);
        await DispatchPendingAsync(started, dispatchedBefore: null, cancellationToken);
    }

    /// <summary>Publishes the batch's items that have no result yet (all, or those dispatched before a time).</summary>
    public async Task<int> DispatchPendingAsync(BatchJob batch, long? dispatchedBefore, CancellationToken cancellationToken)
    {
        var pending = await store.GetPendingItemsAsync(batch.Id, dispatchedBefore, cancellationToken);
        if (pending.Count == 0) return 0;
        var endpoint = await sendEndpoints.GetSendEndpoint(ItemsAddress);
        var now = Now;
        foreach (var chunk in pending.Chunk(PublishChunk))
        {
            // Mark first: a crash between the two re-publishes on the next sweep rather than losing the item.
            await store.MarkDispatchedAsync(batch.Id, chunk.Select(i => i.CustomId).ToList(), now, cancellationToken);
            await Task.WhenAll(chunk.Select(i => endpoint.Send(
                new ExecuteBatchItem(i.BatchId, i.CustomId, i.LineNumber, batch.Endpoint, i.Body, i.DispatchedAt ?? now),
                cancellationToken)));
        }
        logger.LogInformation("Batch {BatchId}: published {Count} item(s)", batch.Id, pending.Count);
        return pending.Count;
    }

    /// <summary>Records one result (idempotently) and finalizes the batch when it was the last one.</summary>
    public async Task<bool> RecordResultAsync(BatchItemResult result, CancellationToken cancellationToken)
    {
        var inserted = await store.TryRecordResultAsync(result, cancellationToken);
        if (inserted) metrics.Requests.WithLabels(result.Succeeded ? "completed" : "failed").Inc();
        else logger.LogInformation("Duplicate result for {BatchId}/{CustomId} ignored", result.BatchId, result.CustomId);
        await TryCompleteAsync(result.BatchId, cancellationToken);
        return inserted;
    }

    /// <summary>in_progress -> finalizing -> completed once completed + failed reaches total.</summary>
    public async Task TryCompleteAsync(string batchId, CancellationToken cancellationToken)
    {
        var batch = await store.GetBatchAsync(batchId, cancellationToken);
        if (batch is null) return;
        if (batch.Status == BatchStatus.InProgress && batch.Completed + batch.Failed >= batch.Total)
        {
            var finalizing = batch with { Status = BatchStatus.Finalizing, FinalizingAt = Now };
            if (!await store.TryUpdateBatchAsync(finalizing, BatchStatus.InProgress, cancellationToken)) return;
            batch = finalizing;
        }
        if (batch.Status == BatchStatus.Finalizing)
            await WriteResultsAndCloseAsync(batch, BatchStatus.Completed, cancellationToken);
    }

    /// <summary>validating/in_progress -> cancelling. Returns the stored batch after the call, or null when unknown.</summary>
    public async Task<(BatchJob? Batch, bool Cancellable)> RequestCancelAsync(string batchId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var batch = await store.GetBatchAsync(batchId, cancellationToken);
            if (batch is null) return (null, false);
            if (batch.Status is BatchStatus.Cancelling) return (batch, true);
            if (batch.Status is not (BatchStatus.Validating or BatchStatus.InProgress)) return (batch, false);
            var cancelling = batch with { Status = BatchStatus.Cancelling, CancellingAt = Now };
            if (await store.TryUpdateBatchAsync(cancelling, batch.Status, cancellationToken))
            {
                logger.LogInformation("Batch {BatchId} cancelling", batchId);
                await RefreshGaugesAsync(cancellationToken);
                return (cancelling, true);
            }
        }
        return (await store.GetBatchAsync(batchId, cancellationToken), false);
    }

    /// <summary>One pass over the non-terminal batches: the background service calls this periodically and on start.</summary>
    public async Task SweepAsync(bool resumeAll, CancellationToken cancellationToken)
    {
        var now = Now;
        var open = await store.ListBatchesByStatusAsync(
            [BatchStatus.Validating, BatchStatus.InProgress, BatchStatus.Finalizing, BatchStatus.Cancelling], cancellationToken);
        foreach (var batch in open)
        {
            try
            {
                await SweepOneAsync(batch, now, resumeAll, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Sweep of batch {BatchId} failed; retried on the next sweep", batch.Id);
            }
        }
        await RefreshGaugesAsync(cancellationToken);
    }

    private async Task SweepOneAsync(BatchJob batch, long now, bool resumeAll, CancellationToken cancellationToken)
    {
        switch (batch.Status)
        {
            case BatchStatus.Validating when now >= batch.ExpiresAt:
            case BatchStatus.InProgress when now >= batch.ExpiresAt:
                await ExpireAsync(batch, cancellationToken);
                break;
            case BatchStatus.Validating:
                await ValidateAndStartAsync(batch.Id, cancellationToken);
                break;
            case BatchStatus.InProgress:
                // After a restart every item without a result is published again (an in-memory queue lost them; a
                // durable one still holds them and the copies collapse on the idempotent insert). Otherwise only items
                // whose message has been outstanding too long (dead-lettered after exhausting retries) go again.
                var before = resumeAll ? (long?)null : now - (long)options.Value.RedispatchAfterSeconds;
                await DispatchPendingAsync(batch, before, cancellationToken);
                await TryCompleteAsync(batch.Id, cancellationToken);
                break;
            case BatchStatus.Finalizing:
                await WriteResultsAndCloseAsync(batch, BatchStatus.Completed, cancellationToken);
                break;
            case BatchStatus.Cancelling:
                await WriteResultsAndCloseAsync(batch, BatchStatus.Cancelled, cancellationToken);
                break;
        }
    }

    private async Task ExpireAsync(BatchJob batch, CancellationToken cancellationToken)
    {
        // Unfinished items get a batch_expired error line, as OpenAI writes them.
        var pending = await store.GetPendingItemsAsync(batch.Id, null, cancellationToken);
        var error = new JsonObject
        {
            ["code"] = "batch_expired",
            ["message"] = "This request could not be executed before the completion window expired.",
        }.ToJsonString();
        foreach (var item in pending)
            await store.TryRecordResultAsync(new BatchItemResult
            {
                BatchId = batch.Id, CustomId = item.CustomId, LineNumber = item.LineNumber, ResultId = Ids.New("batch_req_"),
                RequestId = "", StatusCode = 0, ErrorJson = error, CreatedAt = Now,
            }, cancellationToken);
        logger.LogWarning("Batch {BatchId} expired with {Count} unfinished request(s)", batch.Id, pending.Count);
        await WriteResultsAndCloseAsync(batch, BatchStatus.Expired, cancellationToken);
    }

    /// <summary>Writes the output (2xx) and error (the rest) JSONL files and moves the batch to its terminal status.</summary>
    private async Task WriteResultsAndCloseAsync(BatchJob batch, string terminal, CancellationToken cancellationToken)
    {
        var results = await store.GetResultsAsync(batch.Id, cancellationToken);
        var output = new StringBuilder();
        var errors = new StringBuilder();
        foreach (var r in results)
            (r.Succeeded ? output : errors).Append(ResultLine(r)).Append('\n');

        var now = Now;
        string? outputId = null, errorId = null;
        if (output.Length > 0)
        {
            outputId = Ids.OutputFile(batch.Id);
            await WriteFileAsync(outputId, $"{batch.Id}_output.jsonl", output, now, batch.Tenant, cancellationToken);
        }
        if (errors.Length > 0)
        {
            errorId = Ids.ErrorFile(batch.Id);
            await WriteFileAsync(errorId, $"{batch.Id}_error.jsonl", errors, now, batch.Tenant, cancellationToken);
        }

        var fresh = await store.GetBatchAsync(batch.Id, cancellationToken) ?? batch;
        var closed = fresh with
        {
            Status = terminal, OutputFileId = outputId, ErrorFileId = errorId,
            CompletedAt = terminal == BatchStatus.Completed ? now : fresh.CompletedAt,
            CancelledAt = terminal == BatchStatus.Cancelled ? now : fresh.CancelledAt,
            ExpiredAt = terminal == BatchStatus.Expired ? now : fresh.ExpiredAt,
        };
        if (await store.TryUpdateBatchAsync(closed, batch.Status, cancellationToken))
        {
            logger.LogInformation("Batch {BatchId} {Status}: {Completed} completed, {Failed} failed of {Total}",
                batch.Id, terminal, fresh.Completed, fresh.Failed, fresh.Total);
            await PublishClosedAsync(closed, terminal, cancellationToken);
            await RefreshGaugesAsync(cancellationToken);
        }
    }

    /// <summary>The platform event of a batch that reached a terminal status (exactly once: after the winning update).</summary>
    private Task PublishClosedAsync(BatchJob b, string terminal, CancellationToken cancellationToken)
    {
        var at = time.GetUtcNow();
        return terminal switch
        {
            BatchStatus.Completed => events.PublishAsync(PlatformTopics.BatchCompleted,
                new BatchCompleted(b.Id, b.Endpoint, b.Total, b.Completed, b.Failed, b.OutputFileId, b.ErrorFileId, at), cancellationToken),
            BatchStatus.Expired => events.PublishAsync(PlatformTopics.BatchExpired,
                new BatchExpired(b.Id, b.Endpoint, b.Total, b.Completed, b.Failed, b.OutputFileId, b.ErrorFileId, at), cancellationToken),
            BatchStatus.Cancelled => events.PublishAsync(PlatformTopics.BatchCancelled,
                new BatchCancelled(b.Id, b.Endpoint, b.Total, b.Completed, b.Failed, b.OutputFileId, b.ErrorFileId, at), cancellationToken),
            _ => events.PublishAsync(PlatformTopics.BatchFailed,
                new BatchFailed(b.Id, b.Endpoint, b.Total, b.Completed, b.Failed, b.OutputFileId, b.ErrorFileId, at), cancellationToken),
        };
    }

    private async Task WriteFileAsync(string id, string name, StringBuilder text, long now, string tenant, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        await store.TryInsertFileAsync(
            new BatchFile { Id = id, Purpose = FilesEndpoints.BatchOutputPurpose, Filename = name, Bytes = bytes.Length, CreatedAt = now, Tenant = tenant },
            bytes, cancellationToken);
    }

    /// <summary>{id, custom_id, response:{status_code, request_id, body}, error} as OpenAI writes it.</summary>
    public static string ResultLine(BatchItemResult r) => new JsonObject
    {
        ["id"] = r.ResultId,
        ["custom_id"] = r.CustomId,
        ["response"] = r.StatusCode == 0
            ? null
            : new JsonObject
            {
                ["status_code"] = r.StatusCode,
                ["request_id"] = r.RequestId,
                ["body"] = r.ResponseBody is null ? null : JsonNode.Parse(r.ResponseBody),
            },
        ["error"] = r.ErrorJson is null ? null : JsonNode.Parse(r.ErrorJson),
    }.ToJsonString();

    public async Task RefreshGaugesAsync(CancellationToken cancellationToken) =>
        metrics.SetBatchCounts(await store.CountBatchesByStatusAsync(cancellationToken));
}
