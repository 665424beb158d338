using System.ComponentModel.DataAnnotations;

namespace Platform.ServiceDefaults.Chat;

/// <summary>How a router (gateway, batch runner) talks to text workers. Section "ChatClient".</summary>
public sealed class ChatClientOptions
{
    public const string Section = "ChatClient";

    /// <summary>How long a request may wait for a worker to accept it (queue time) before failing with 503.</summary>
    [Range(0.1, 3600)] public double QueueTimeoutSeconds { get; set; } = 60;

    /// <summary>A stream that receives nothing (no chunk, no heartbeat) for this long fails: its worker is gone.</summary>
    [Range(0.1, 3600)] public double StreamIdleTimeoutSeconds { get; set; } = 15;

    /// <summary>Requests sent but not yet accepted by a worker; beyond this new requests get 429.</summary>
    [Range(0, 1_000_000)] public int MaxWaitingRequests { get; set; } = 256;

    public TimeSpan QueueTimeout => TimeSpan.FromSeconds(QueueTimeoutSeconds);
    public TimeSpan StreamIdleTimeout => TimeSpan.FromSeconds(StreamIdleTimeoutSeconds);
}
