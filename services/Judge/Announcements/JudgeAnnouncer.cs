using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Models;
using Judge.Models;

namespace Judge.Announcements;

/// <summary>
/// Publishes <see cref="ModelsAnnounced"/> (service "judge", every model with the "judge" capability) once the bus
/// runs, then every AnnounceIntervalSeconds (valid for three periods), and <see cref="ModelsWithdrawn"/> on stop, the
/// same protocol as the text worker's announcer, so the gateway's model directory lists judges beside chat models.
/// </summary>
public sealed class JudgeAnnouncer(
    IBus bus,
    JudgeEngines engines,
    IOptions<JudgeOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<JudgeAnnouncer> logger) : BackgroundService
{
    public const string ServiceName = "judge";

    public string WorkerId { get; } = options.Value.ResolveInstanceId();

    public Task AnnounceAsync(CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromSeconds(options.Value.AnnounceIntervalSeconds);
        return bus.Publish(new ModelsAnnounced(WorkerId, ServiceName, engines.Describe(), time.GetUtcNow(), period * 3), cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The bus starts after the hosted services registered before it; wait for the application to be started.
        var started = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled()))
        {
            try { await started.Task; }
            catch (OperationCanceledException) { return; }
        }
        lifetime.ApplicationStopping.Register(Withdraw);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.AnnounceIntervalSeconds), time);
        do
        {
            try { await AnnounceAsync(stoppingToken); }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested) { logger.LogWarning(ex, "Could not announce judge models; will retry next period"); }
            catch (OperationCanceledException) { return; }
        } while (await Tick(timer, stoppingToken));
    }

    private static async Task<bool> Tick(PeriodicTimer timer, CancellationToken stop)
    {
        try { return await timer.WaitForNextTickAsync(stop); }
        catch (OperationCanceledException) { return false; }
    }

    private void Withdraw()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            bus.Publish(new ModelsWithdrawn(WorkerId), timeout.Token).GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not withdraw judge models; routers forget this worker when its announcement expires");
        }
    }
}

/// <summary>Answers a router that just started; runs on a temporary per-instance queue so every judge worker hears it.</summary>
public sealed class JudgeAnnouncementRequestedConsumer(JudgeAnnouncer announcer) : IConsumer<ModelsAnnouncementRequested>
{
    public Task Consume(ConsumeContext<ModelsAnnouncementRequested> context) => announcer.AnnounceAsync(context.CancellationToken);
}
