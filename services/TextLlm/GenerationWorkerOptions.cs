using System.ComponentModel.DataAnnotations;

namespace TextLlm;

/// <summary>Settings every generation worker has (TextLlm and MoeAdapter bind them from their own sections): which
/// models it serves, how generated tokens are coalesced into chunks, heartbeats and announcements.</summary>
public abstract class GenerationWorkerOptions
{
    /// <summary>Names this process in responses (system_fingerprint, X-Platform-Worker). Default: {prefix}-{host}-{pid}.</summary>
    public string? InstanceId { get; set; }

    /// <summary>Registry names to serve; empty serves every entry of Models whose Kind is the worker's kind.</summary>
    public string[] Models { get; set; } = [];

    /// <summary>Completion length when the request gives none (still capped by the context window).</summary>
    [Range(1, 1_048_576)] public int DefaultMaxTokens { get; set; } = 512;

    /// <summary>Coalescing: a chunk leaves after this many milliseconds ...</summary>
    [Range(0, 10_000)] public int CoalesceMaxDelayMs { get; set; } = 20;

    /// <summary>... or this many tokens, whichever comes first. The first token always leaves at once.</summary>
    [Range(1, 100_000)] public int CoalesceMaxTokens { get; set; } = 16;

    /// <summary>An empty chunk is sent when nothing else was sent for this long, so the receiver can tell a slow worker from a dead one.</summary>
    [Range(10, 600_000)] public int HeartbeatIntervalMs { get; set; } = 1000;

    /// <summary>How often the worker announces its models; receivers forget it after three missed periods.</summary>
    [Range(0.1, 3600)] public double AnnounceIntervalSeconds { get; set; } = 5;

    /// <summary>The first word of the default instance id ("textllm", "moe").</summary>
    protected abstract string InstancePrefix { get; }

    public string ResolveInstanceId() =>
        string.IsNullOrWhiteSpace(InstanceId) ? $"{InstancePrefix}-{Environment.MachineName}-{Environment.ProcessId}" : InstanceId;
}
