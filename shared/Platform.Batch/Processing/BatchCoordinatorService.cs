using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Batch.Storage;

namespace Platform.Batch.Processing;

/// <summary>
/// Creates the store's tables before the app serves, then drives the coordinator: new batches at once, and a sweep
/// every Batch:SweepIntervalSeconds (expiry, cancellation, lost items, gauges). The first sweep after start resumes
/// every open batch from the store.
/// </summary>
internal sealed class BatchCoordinatorService(
    BatchCoordinator coordinator,
    IBatchStore store,
    IHostApplicationLifetime lifetime,
    IOptions<BatchOptions> options,
    ILogger<BatchCoordinatorService> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        logger.LogInformation("Batch store ready ({Store})", options.Value.Store);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The bus starts as a later hosted service: publish nothing before the whole host is up.
        var started = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try { await started.Task; }
            catch (OperationCanceledException) { return; }
        }

        var interval = TimeSpan.FromSeconds(options.Value.SweepIntervalSeconds);
        var resumeAll = true;
        var nextSweep = DateTime.UtcNow;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (DateTime.UtcNow >= nextSweep)
                {
                    await coordinator.SweepAsync(resumeAll, stoppingToken);
                    resumeAll = false;
                    nextSweep = DateTime.UtcNow + interval;
                }
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                wait.CancelAfter(nextSweep - DateTime.UtcNow is { Ticks: > 0 } d ? d : TimeSpan.Zero);
                string? created = null;
                try
                {
                    if (await coordinator.Created.WaitToReadAsync(wait.Token)) coordinator.Created.TryRead(out created);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
                if (created is not null) await coordinator.ValidateAndStartAsync(created, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The store or broker is down: everything is in the store, so the next sweep retries from there.
                logger.LogError(ex, "Batch coordinator pass failed; retrying after {Interval}", interval);
                nextSweep = DateTime.UtcNow + interval;
                try { await Task.Delay(interval, stoppingToken); } catch (OperationCanceledException) { return; }
            }
        }
    }
}
