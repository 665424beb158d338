using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Models;

namespace Platform.ServiceDefaults.Models;

/// <summary>
/// Publishes <see cref="ModelsAnnounced"/> once the host has started (the bus runs by then), then every
/// <see cref="IAnnouncedModels.AnnounceInterval"/> (valid for three periods), and <see cref="ModelsWithdrawn"/> when
/// the application stops. One per worker kind: the text worker and the judge worker each announce their own models,
/// also when they share the all-in-one process.
/// </summary>
public sealed class ModelAnnouncer<TModels>(
    IBus bus,
    TModels models,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<ModelAnnouncer<TModels>> logger) : IHostedLifecycleService where TModels : IAnnouncedModels
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _stopped;

    public Task AnnounceAsync(CancellationToken cancellationToken) =>
        bus.Publish(new ModelsAnnounced(models.WorkerId, models.ServiceName, models.Describe(), time.GetUtcNow(), models.AnnounceInterval * 3),
            cancellationToken);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(Withdraw);
        _loop = LoopAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        // A host may be stopped twice (WebApplicationFactory stops it, then the app's own Run returns and stops it).
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        await _stop.CancelAsync();
        if (_loop is not null) await _loop;
        _stop.Dispose();
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(models.AnnounceInterval, time);
        do
        {
            try
            {
                await AnnounceAsync(stop);
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not announce {Service} models; will retry next period", models.ServiceName);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        } while (await WaitAsync(timer, stop));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stop)
    {
        try { return await timer.WaitForNextTickAsync(stop); }
        catch (OperationCanceledException) { return false; }
    }

    private void Withdraw()
    {
        _stop.Cancel();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            bus.Publish(new ModelsWithdrawn(models.WorkerId), timeout.Token).GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not withdraw {Service} models; routers forget this worker when its announcement expires", models.ServiceName);
        }
    }
}
