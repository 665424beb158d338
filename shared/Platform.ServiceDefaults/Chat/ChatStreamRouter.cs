using System.Collections.Concurrent;
using Platform.Contracts.Chat;

namespace Platform.ServiceDefaults.Chat;

/// <summary>Routes streamed chunks arriving on this instance's bus endpoint to the open session they belong to.</summary>
public sealed class ChatStreamRouter
{
    private readonly ConcurrentDictionary<Guid, ChatCompletionSession> _sessions = new();

    public int OpenSessions => _sessions.Count;

    internal void Register(ChatCompletionSession session) => _sessions[session.RequestId] = session;

    internal void Remove(Guid requestId) => _sessions.TryRemove(requestId, out _);

    /// <summary>Returns false for a chunk of a request that is no longer open here (finished, timed out, client gone).</summary>
    public bool Deliver(ChatCompletionChunkProduced chunk)
    {
        if (!_sessions.TryGetValue(chunk.RequestId, out var session)) return false;
        session.Deliver(chunk);
        return true;
    }

    public bool Deliver(ChatCompletionFailed failed)
    {
        if (!_sessions.TryGetValue(failed.RequestId, out var session)) return false;
        session.Fail(failed);
        return true;
    }
}
