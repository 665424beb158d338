using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Models;
using TextLlm.Models;

namespace TextLlm.Announcements;

/// <summary>
/// Publishes <see cref="ModelsAnnounced"/> once the bus runs, then every AnnounceIntervalSeconds (valid for three
/// periods), and <see cref="ModelsWithdrawn"/> when the application stops.
/// </summary>
public sealed class ModelAnnouncer(
    IBus bus,
    EngineHost engines,
    WorkerIdentity identity,
    IOptions<TextLlmOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<ModelAnnouncer> logger) : IHostedLifecycleService
{
    public const string ServiceName = "text-llm";
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public async Task AnnounceAsync(CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromSeconds(options.Value.AnnounceIntervalSeconds);
        await bus.Publish(new ModelsAnnounced(identity.WorkerId, ServiceName, engines.Describe(), time.GetUtcNow(), period * 3),
            cancellationToken);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(Withdraw);
        _loop = LoopAsync(_stop.Token);
        return Task.CompletedTask;
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.AnnounceIntervalSeconds), time);
        do
        {
            try
            {
                await AnnounceAsync(stop);
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not announce models; will retry next period");
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
            bus.Publish(new ModelsWithdrawn(identity.WorkerId), timeout.Token).GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not withdraw models; routers will forget this worker when its announcement expires");
        }
    }

    private int _stopped;

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
}
