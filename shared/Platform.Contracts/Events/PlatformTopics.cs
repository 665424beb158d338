namespace Platform.Contracts.Events;

/// <summary>Dapr pub/sub topic names of the platform events, each "{prefix}.{name}" (prefix: Dapr:TopicPrefix).</summary>
public static class PlatformTopics
{
    public const string BatchCompleted = "batch.completed";
    public const string BatchFailed = "batch.failed";
    public const string BatchExpired = "batch.expired";
    public const string BatchCancelled = "batch.cancelled";
    public const string WorkersUp = "workers.up";
    public const string WorkersDown = "workers.down";

    public static string Topic(string prefix, string name) => string.IsNullOrEmpty(prefix) ? name : $"{prefix}.{name}";
}
