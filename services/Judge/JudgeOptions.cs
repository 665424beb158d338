using System.ComponentModel.DataAnnotations;

namespace Judge;

/// <summary>Settings of the judge worker, section "Judge".</summary>
public sealed class JudgeOptions
{
    public const string Section = "Judge";

    /// <summary>Names this process in results (worker id). Default: judge-{host}-{pid}.</summary>
    public string? InstanceId { get; set; }

    /// <summary>Registry names to serve; empty serves every entry of Models whose Kind is "judge".</summary>
    public string[] Models { get; set; } = [];

    /// <summary>Most tokens of one judgement (Auto-J's example uses 1024), capped by the context left after the prompt.</summary>
    [Range(1, 1_048_576)] public int MaxTokens { get; set; } = 1024;

    /// <summary>How often the worker announces its models; receivers forget it after three missed periods.</summary>
    [Range(0.1, 3600)] public double AnnounceIntervalSeconds { get; set; } = 5;

    public string ResolveInstanceId() =>
        string.IsNullOrWhiteSpace(InstanceId) ? $"judge-{Environment.MachineName}-{Environment.ProcessId}" : InstanceId;
}
