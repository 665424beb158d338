namespace Platform.ServiceDefaults.Dapr;

/// <summary>
/// Publishes platform events (records of Platform.Contracts.Events) for other systems. Best effort: a failure is
/// logged and never fails the work that raised the event (the work is on MassTransit, the events are a side channel).
/// </summary>
public interface IPlatformEvents
{
    /// <param name="name">One of <see cref="Platform.Contracts.Events.PlatformTopics"/>.</param>
    Task PublishAsync<T>(string name, T data, CancellationToken cancellationToken) where T : class;
}

/// <summary>Dapr disabled: nobody to tell.</summary>
public sealed class NoPlatformEvents : IPlatformEvents
{
    public Task PublishAsync<T>(string name, T data, CancellationToken cancellationToken) where T : class => Task.CompletedTask;
}
