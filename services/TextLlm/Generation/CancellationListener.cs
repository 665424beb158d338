using MassTransit;
using Platform.Contracts.Chat;

namespace TextLlm.Generation;

/// <summary>Receives <see cref="CancelChatCompletion"/> on this instance's own bus endpoint (the address sent in Accepted).</summary>
public sealed class CancellationListener(IBus bus, ActiveGenerations active, ILogger<CancellationListener> logger) : IHostedService
{
    private ConnectHandle? _handle;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _handle = bus.ConnectHandler<CancelChatCompletion>(ctx =>
        {
            if (active.Cancel(ctx.Message.RequestId))
                logger.LogInformation("Cancelling request {RequestId} at the client's request", ctx.Message.RequestId);
            return Task.CompletedTask;
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _handle?.Disconnect();
        return Task.CompletedTask;
    }
}
