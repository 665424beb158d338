using Dapr.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Events;

namespace Platform.ServiceDefaults.Dapr;

/// <summary>
/// Platform events through Dapr pub/sub: DaprClient.PublishEventAsync sends the record as JSON and the sidecar wraps
/// it in a CloudEvent (type com.dapr.event.sent, source the app-id, datacontenttype application/json).
/// </summary>
public sealed class DaprPlatformEvents(DaprClient dapr, IOptions<DaprOptions> options, ILogger<DaprPlatformEvents> logger) : IPlatformEvents
{
    public async Task PublishAsync<T>(string name, T data, CancellationToken cancellationToken) where T : class
    {
        var o = options.Value;
        var topic = PlatformTopics.Topic(o.TopicPrefix, name);
        try
        {
            await dapr.PublishEventAsync(o.PubSub, topic, data, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Could not publish platform event {Topic} to Dapr pub/sub {PubSub}", topic, o.PubSub);
        }
    }
}
