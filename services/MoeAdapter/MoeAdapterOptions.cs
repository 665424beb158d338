using System.ComponentModel.DataAnnotations;

namespace MoeAdapter;

/// <summary>Settings of the MoE worker, section "MoeAdapter".</summary>
public sealed class MoeAdapterOptions
{
    public const string Section = "MoeAdapter";

    /// <summary>Names this process in responses (system_fingerprint, X-Platform-Worker). Default: moe-{host}-{pid}.</summary>
    public string? InstanceId { get; set; }

    /// <summary>Registry names to serve; empty serves every entry of Models whose Kind is "moe".</summary>
    public string[] Models { get; set; } = [];

    /// <summary>Completion length when the request gives none (still capped by the context window).</summary>
    [Range(1, 1_048_576)] public int DefaultMaxTokens { get; set; } = 512;

    /// <summary>Coalescing of text tokens into chunks (as TextLlm); a picture always leaves at once.</summary>
    [Range(0, 10_000)] public int CoalesceMaxDelayMs { get; set; } = 20;

    [Range(1, 100_000)] public int CoalesceMaxTokens { get; set; } = 16;

    /// <summary>An empty chunk is sent when nothing else was sent for this long.</summary>
    [Range(10, 600_000)] public int HeartbeatIntervalMs { get; set; } = 1000;

    /// <summary>How often the worker announces its models; receivers forget it after three missed periods.</summary>
    [Range(0.1, 3600)] public double AnnounceIntervalSeconds { get; set; } = 5;

    /// <summary>An expert is modality-specific when that modality's share of it (both weighted equally) is at least this.</summary>
    [Range(0.5, 1.0)] public double SpecificExpertThreshold { get; set; } = 0.8;

    public string ResolveInstanceId() =>
        string.IsNullOrWhiteSpace(InstanceId) ? $"moe-{Environment.MachineName}-{Environment.ProcessId}" : InstanceId;
}
