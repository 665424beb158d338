using System.Collections.Concurrent;

namespace TextLlm.Generation;

/// <summary>Cancellation handles of the generations running in this process, by request id.</summary>
public sealed class ActiveGenerations
{
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();

    public int Count => _running.Count;

    public Registration Register(Guid requestId, CancellationToken linked)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(linked);
        _running[requestId] = cts;
        return new Registration(this, requestId, cts);
    }

    /// <summary>Returns false when the request is not running here (finished, or on another worker).</summary>
    public bool Cancel(Guid requestId)
    {
        if (!_running.TryGetValue(requestId, out var cts)) return false;
        try { cts.Cancel(); } catch (ObjectDisposedException) { return false; }
        return true;
    }

    public sealed class Registration(ActiveGenerations owner, Guid requestId, CancellationTokenSource cts) : IDisposable
    {
        public CancellationToken Token => cts.Token;

        public void Dispose()
        {
            owner._running.TryRemove(requestId, out _);
            cts.Dispose();
        }
    }
}
