namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// The requests waiting for a KV-cache slot and the rules for taking them in. The queue is bounded: running plus
/// waiting at most MaxConcurrentSequences + MaxWaitingRequests, beyond which a request is refused with
/// <see cref="EngineFullException"/>. Preempted sequences are readmitted before new requests (the most recently
/// preempted first); a request cancelled before it got a slot ends at once; the next one is admitted only when the
/// KV pool can hold its whole prefill, and keeps its place otherwise. Requests arrive on callers' threads and the
/// scheduler thread takes them, so one lock guards the queue and the running count the bound is checked against.
/// </summary>
internal sealed class AdmissionQueue
{
    private readonly object _gate = new();
    private readonly Queue<Sequence> _waiting = new();
    private readonly Stack<Sequence> _preempted = new();
    private readonly string _modelName;
    private readonly int _capacity, _maxWaiting;
    private int _running;

    public AdmissionQueue(string modelName, int maxRunning, int maxWaiting)
    {
        _modelName = modelName;
        _capacity = maxRunning + maxWaiting;
        _maxWaiting = maxWaiting;
    }

    /// <summary>Running sequences, and waiting ones (preempted included), read together.</summary>
    public (int Running, int Waiting) Counts
    {
        get { lock (_gate) return (_running, _waiting.Count + _preempted.Count); }
    }

    /// <summary>Queues a new request; <see cref="EngineFullException"/> when the queue is at its bound.</summary>
    public void Enqueue(Sequence seq)
    {
        lock (_gate)
        {
            if (_running + _waiting.Count >= _capacity)
                throw new EngineFullException($"engine '{_modelName}' is full: {_running} running, {_waiting.Count} waiting (MaxWaitingRequests {_maxWaiting})");
            _waiting.Enqueue(seq);
        }
    }

    /// <summary>
    /// Ends the waiting requests already cancelled, then takes sequences in while fewer than
    /// <paramref name="maxRunning"/> run and <paramref name="canHold"/> says the KV pool can take the next one;
    /// <paramref name="admit"/> places each (it runs under the queue's lock, so the running count never lags).
    /// </summary>
    public void Admit(int running, int maxRunning, Func<Sequence, bool> canHold, Action<Sequence> admit)
    {
        lock (_gate)
        {
            if (_waiting.Any(w => w.Cancellation.IsCancellationRequested))
            {
                // Cancelled before getting a slot: end them now rather than when a slot frees up.
                var keep = _waiting.Where(w => !w.Cancellation.IsCancellationRequested).ToList();
                foreach (var w in _waiting.Where(w => w.Cancellation.IsCancellationRequested)) w.Finish("cancelled");
                _waiting.Clear();
                foreach (var w in keep) _waiting.Enqueue(w);
            }
            while (running < maxRunning && Next(canHold, running > 0) is { } seq)
            {
                admit(seq);
                running++;
            }
            _running = running;
        }
    }

    /// <summary>The next sequence to admit (preempted ones first), or null when none waits or the pool cannot take
    /// the next one yet (it keeps its place).</summary>
    private Sequence? Next(Func<Sequence, bool> canHold, bool othersRun)
    {
        while (_preempted.Count > 0 && _preempted.Peek().Cancellation.IsCancellationRequested) _preempted.Pop().Finish("cancelled");
        var next = _preempted.Count > 0 ? _preempted.Peek() : _waiting.Count > 0 ? _waiting.Peek() : null;
        if (next is null) return null;
        if (!canHold(next))
        {
            if (othersRun) return null;
            // Alone it still does not fit: only a resumed sequence can get here (prompts are checked on arrival).
            (_preempted.Count > 0 ? _preempted.Pop() : _waiting.Dequeue()).Finish("length");
            return null;
        }
        return _preempted.Count > 0 ? _preempted.Pop() : _waiting.Dequeue();
    }

    /// <summary>Sets the running count after sequences left.</summary>
    public void SetRunning(int running)
    {
        lock (_gate) _running = running;
    }

    /// <summary>Queues a preempted sequence for recompute, ahead of the waiting requests.</summary>
    public void Preempted(Sequence seq, int running)
    {
        lock (_gate)
        {
            _preempted.Push(seq);
            _running = running;
        }
    }

    /// <summary>Ends everything still queued with "cancelled" (the engine stops).</summary>
    public void CancelAll()
    {
        lock (_gate)
        {
            while (_waiting.Count > 0) _waiting.Dequeue().Finish("cancelled");
            while (_preempted.Count > 0) _preempted.Pop().Finish("cancelled");
        }
    }
}
