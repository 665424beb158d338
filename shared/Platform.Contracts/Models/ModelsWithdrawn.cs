namespace Platform.Contracts.Models;

/// <summary>Published by a worker that stops gracefully, so routers forget it at once instead of after expiry.</summary>
public sealed record ModelsWithdrawn(string WorkerId);
