namespace Platform.Contracts.Events;

/// <summary>Platform event (topic "{prefix}.workers.up"): a worker started serving these models (seen by a gateway).</summary>
public sealed record WorkersUp(string WorkerId, IReadOnlyList<string> Models, DateTimeOffset At);
