namespace Platform.Contracts.Events;

/// <summary>
/// Platform event (topic "{prefix}.workers.down"): a worker stopped serving these models; Reason is "withdrawn" (it
/// said goodbye on shutdown) or "expired" (its announcements stopped: killed or unreachable).
/// </summary>
public sealed record WorkersDown(string WorkerId, IReadOnlyList<string> Models, string Reason, DateTimeOffset At);
