using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Batch.Storage;
using Platform.Batch.Tenancy;
using Platform.Contracts.Batch;

namespace Platform.Batch.Processing;

/// <summary>
/// Runs one batch item on the workers and records its result exactly once. A copy of an item that already has a
/// result (redelivery after a crash, re-publication after a restart) costs one lookup and no generation.
/// </summary>
public sealed class ExecuteBatchItemConsumer(
    BatchCoordinator coordinator,
    IBatchStore store,
    TimeProvider time,
    ILogger<ExecuteBatchItemConsumer> logger) : IConsumer<ExecuteBatchItem>
{
    public async Task Consume(ConsumeContext<ExecuteBatchItem> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var batch = await store.GetBatchAsync(m.BatchId, ct);
        if (batch is null || batch.Status != BatchStatus.InProgress)
        {
            logger.LogDebug("Skipping item {CustomId}: batch {BatchId} is {Status}", m.CustomId, m.BatchId, batch?.Status ?? "gone");
            return;
        }
        if (await store.HasResultAsync(m.BatchId, m.CustomId, ct))
        {
            await coordinator.TryCompleteAsync(m.BatchId, ct);
            return;
        }
        var handler = coordinator.FindHandler(m.Endpoint)
            ?? throw new InvalidOperationException($"No batch handler for endpoint '{m.Endpoint}' in this process.");

        using var body = JsonDocument.Parse(m.Body);
        BatchItemResponse response;
        // The line runs as its batch's tenant: the images it generates belong to that tenant.
        using var tenant = TenantContext.Enter(batch.Tenant);
        try
        {
            response = await handler.ExecuteAsync(body.RootElement, DateTimeOffset.FromUnixTimeSeconds(m.FirstDispatchedAt), ct);
        }
        catch (BatchItemTransientException ex)
        {
            logger.LogWarning("Batch {BatchId} item {CustomId} (attempt {Attempt}) will be retried: {Reason}",
                m.BatchId, m.CustomId, context.GetRetryAttempt() + 1, ex.Message);
            throw;
        }

        await coordinator.RecordResultAsync(new BatchItemResult
        {
            BatchId = m.BatchId, CustomId = m.CustomId, LineNumber = m.LineNumber, ResultId = Ids.New("batch_req_"),
            RequestId = response.RequestId, StatusCode = response.StatusCode, ResponseBody = response.Body,
            CreatedAt = time.GetUtcNow().ToUnixTimeSeconds(),
        }, ct);
    }
}

/// <summary>
/// The batch concurrency budget: at most Batch:MaxConcurrentItems items run at once from this process (and no more
/// are prefetched), so batch work only takes that many of the workers' sequence slots and interactive requests keep
/// the rest. Transient failures (worker restarting, broker reconnecting) are retried with growing pauses; an item
/// that exhausts them is re-published by the coordinator's sweep.
/// </summary>
public sealed class ExecuteBatchItemConsumerDefinition : ConsumerDefinition<ExecuteBatchItemConsumer>
{
    private readonly BatchOptions _options;

    public ExecuteBatchItemConsumerDefinition(IOptions<BatchOptions> options)
    {
        _options = options.Value;
        EndpointName = BatchCoordinator.ItemsQueue;
        ConcurrentMessageLimit = _options.MaxConcurrentItems;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ExecuteBatchItemConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = _options.MaxConcurrentItems;
        consumerConfigurator.UseMessageRetry(r =>
        {
            r.Handle<BatchItemTransientException>();
            r.Intervals(500, 1000, 2000, 5000, 10000, 15000, 30000);
        });
    }
}
