namespace Platform.Batch.Tenancy;

/// <summary>
/// The tenant the current work belongs to: set by the gateway from the caller's API key for an HTTP request, and by
/// the batch-item consumer from the batch for the lines it runs. Files, batches and generated images are stored with
/// it and read back only under it. Without API keys (an open gateway) it is the empty tenant, so everything stays
/// visible to everyone, as before keys existed. An AsyncLocal so that it follows the request into every await and
/// Task.Run below the point where it was set.
/// </summary>
public static class TenantContext
{
    /// <summary>The tenant of an open gateway (no keys) and of everything stored before keys were configured.</summary>
    public const string Open = "";

    private static readonly AsyncLocal<string?> Ambient = new();

    /// <summary>The current tenant, <see cref="Open"/> when none was set.</summary>
    public static string Current => Ambient.Value ?? Open;

    /// <summary>Sets the tenant for the calling flow until the returned scope is disposed.</summary>
    public static IDisposable Enter(string tenant)
    {
        var previous = Ambient.Value;
        Ambient.Value = tenant;
        return new Restore(previous);
    }

    private sealed class Restore(string? previous) : IDisposable
    {
        public void Dispose() => Ambient.Value = previous;
    }
}
