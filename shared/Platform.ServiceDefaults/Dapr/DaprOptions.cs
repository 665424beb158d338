using System.ComponentModel.DataAnnotations;

namespace Platform.ServiceDefaults.Dapr;

/// <summary>
/// Dapr sidecar integration, section "Dapr" (the chart sets it when dapr.enabled). The platform's work stays on
/// MassTransit; Dapr carries the credentials (secret store), the platform events (pub/sub) and, when Images:Store is
/// Dapr, the generated images (state store).
/// </summary>
public sealed class DaprOptions
{
    public const string Section = "Dapr";

    public bool Enabled { get; set; }

    /// <summary>Secret store component the credentials come from.</summary>
    public string SecretStore { get; set; } = "platform-secrets";

    /// <summary>Pub/sub component the platform events are published to.</summary>
    public string PubSub { get; set; } = "platform-pubsub";

    public string StateStore { get; set; } = "platform-state";

    /// <summary>Topics are "{TopicPrefix}.batch.completed" etc.</summary>
    public string TopicPrefix { get; set; } = "platform";

    /// <summary>Secret with the broker's "username" and "password" (to Bus:RabbitMq:Username / Password).</summary>
    public string? BrokerSecret { get; set; }

    /// <summary>Secret with the database's "password" (to Batch:Password, which replaces the connection string's).</summary>
    public string? DatabaseSecret { get; set; }

    /// <summary>How long start-up waits for the sidecar before reading the secrets.</summary>
    [Range(0, 600)] public double SidecarWaitSeconds { get; set; } = 30;
}
