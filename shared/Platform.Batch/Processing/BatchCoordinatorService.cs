using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Batch.Storage;

namespace Platform.Batch.Processing;

/// <summary>
/// Creates the store's tables before the app serves, then drives the coordinator while this process holds the
/// coordinator lease in the store (one active coordinator across replicas): new batches at once, and a sweep every
/// Batch:SweepIntervalSeconds (expiry, cancellation, lost items, gauges). The first sweep after taking the lease
/// resumes every open batch from the store. Replicas without the lease only try to take it; their items still run
/// (the batch-items queue has every replica as a competing consumer).
/// </summary>
public sealed class BatchCoordinatorService(
    BatchCoordinator coordinator,
    IBatchStore store,
    IHostApplicationLifetime lifetime,
    IOptions<BatchOptions> options,
    TimeProvider time,
    ILogger<BatchCoordinatorService> logger) : BackgroundService
{
    public const string LeaseName = "batch-coordinator";

    /// <summary>Names this process as lease holder.</summary>
    public string Holder { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";

    /// <summary>Whether this process is the active coordinator now.</summary>
    public bool IsLeader { get => _isLeader; private set => _isLeader = value; }
    private volatile bool _isLeader;
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

        using var leaseLoop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var renewing = RenewLeaseAsync(leaseLoop.Token);
        try
        {
            await CoordinateAsync(stoppingToken);
        }
        finally
        {
            await leaseLoop.CancelAsync();
            await renewing;
        }
    }

    /// <summary>
    /// Takes or renews the lease every third of its duration, apart from the coordinator's passes so that a long pass
    /// (validating a large input file) does not let it lapse; gives it up on stop so another replica takes over at once.
    /// </summary>
    private async Task RenewLeaseAsync(CancellationToken cancellationToken)
    {
        var lease = TimeSpan.FromSeconds(options.Value.CoordinatorLeaseSeconds);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var leader = await store.TryAcquireLeaseAsync(LeaseName, Holder, time.GetUtcNow(), lease, cancellationToken);
                if (leader != IsLeader)
                {
                    logger.LogInformation(leader ? "Batch coordinator lease taken ({Holder})" : "Batch coordinator lease lost ({Holder})", Holder);
                    IsLeader = leader;
                    _leadershipChanged.Release();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { break; }
            catch (Exception ex)
            {
                // The database is unreachable: the lease may lapse, so stop coordinating until it is renewed.
                logger.LogWarning(ex, "Batch coordinator lease renewal failed");
                if (IsLeader) { IsLeader = false; _leadershipChanged.Release(); }
            }
            try { await Task.Delay(lease / 3, cancellationToken); } catch (OperationCanceledException) { break; }
        }
        if (!IsLeader) return;
        IsLeader = false;
        try
        {
            using var release = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await store.ReleaseLeaseAsync(LeaseName, Holder, release.Token);
            logger.LogInformation("Batch coordinator lease released ({Holder})", Holder);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogWarning(ex, "Could not release the batch coordinator lease; another replica takes over when it expires");
        }
    }

    private readonly SemaphoreSlim _leadershipChanged = new(0);

    private async Task CoordinateAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(options.Value.SweepIntervalSeconds);
        var resumeAll = true;
        var nextSweep = DateTime.UtcNow;
        var wasLeader = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!IsLeader)
                {
                    wasLeader = false;
                    while (coordinator.Created.TryRead(out _)) { } // the leader's sweep finds them in the store
                    await _leadershipChanged.WaitAsync(interval, stoppingToken);
                    continue;
                }
                if (!wasLeader)
                {
                    // Newly in charge: resume every open batch, as after a restart.
                    wasLeader = true;
                    resumeAll = true;
                    nextSweep = DateTime.UtcNow;
                }
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
                if (created is not null && IsLeader) await coordinator.ValidateAndStartAsync(created, stoppingToken);
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
