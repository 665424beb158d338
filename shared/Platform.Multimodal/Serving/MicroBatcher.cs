using System.Diagnostics;

namespace Platform.Multimodal.Serving;

/// <summary>How many batches a <see cref="MicroBatcher{TIn,TOut}"/> ran, with how many inputs, and the largest.</summary>
public sealed record MicroBatcherStats(long Batches, long Inputs, int LargestBatch);

/// <summary>
/// Runs one batched forward for the requests that arrive together. One worker thread owns the forwards: inputs
/// submitted while a batch runs (or within <c>window</c> of the first one, when a window is set) go into the next
/// batch, up to <c>maxBatch</c>. Each request keeps its own cancellation (a cancelled request leaves the queue, or
/// its result is dropped if its batch already runs; the others are unaffected) and its own error: when a batched
/// forward throws, each of its inputs runs again alone, so only the inputs that fail alone get an exception.
/// </summary>
/// <remarks>
/// Why a single worker instead of each caller running its own forward: on a CPU host every concurrent torch or ONNX
/// Runtime call brings its own intra-op threads, so N callers put N thread teams on the same cores and spend the time
/// waiting for each other; a batch of N rows costs little more than one row for the small matrices of these models.
/// Forwards of batchers that share a <c>gate</c> (the models of one process) never overlap.
/// </remarks>
public sealed class MicroBatcher<TIn, TOut> : IDisposable
{
    private readonly Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> _forward;
    private readonly int _maxBatch;
    private readonly TimeSpan _window;
    private readonly object _gate;
    private readonly object _sync = new();
    private readonly Queue<Item> _queue = new();
    private readonly Thread _worker;
    private readonly Action? _workerStart;
    private bool _stopping;
    private long _batches, _inputs;
    private int _largest;

    /// <param name="workerStart">Runs first on the worker thread, where every forward runs (per-thread settings such
    /// as torch's intra-op thread count).</param>
    public MicroBatcher(string name, Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> forward, int maxBatch, TimeSpan window, object? gate = null,
        Action? workerStart = null)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.Zero);
        _forward = forward;
        _maxBatch = maxBatch;
        _window = window;
        _gate = gate ?? new object();
        _workerStart = workerStart;
        _worker = new Thread(Loop) { IsBackground = true, Name = name };
        _worker.Start();
    }

    public MicroBatcherStats Stats
    {
        get
        {
            lock (_sync) return new MicroBatcherStats(_batches, _inputs, _largest);
        }
    }

    /// <summary>Queues one input for the next batch; the task ends with its own output, exception or cancellation.</summary>
    public Task<TOut> SubmitAsync(TIn input, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<TOut>(cancellationToken);
        var item = new Item(input);
        // Registered before the worker can see the item (it disposes the registration): a request cancelled while
        // it waits completes at once and the worker skips it.
        item.Registration = cancellationToken.Register(static (s, token) => ((Item)s!).Done.TrySetCanceled(token), item);
        lock (_sync)
        {
            if (_stopping)
            {
                item.Registration.Dispose();
                throw new ObjectDisposedException(GetType().Name);
            }
            _queue.Enqueue(item);
            Monitor.Pulse(_sync);
        }
        return item.Done.Task;
    }

    private void Loop()
    {
        _workerStart?.Invoke();
        var batch = new List<Item>(_maxBatch);
        while (true)
        {
            lock (_sync)
            {
                while (_queue.Count == 0 && !_stopping) Monitor.Wait(_sync);
                if (_stopping) break;
                if (_window > TimeSpan.Zero)
                {
                    var deadline = Stopwatch.GetTimestamp() + (long)(_window.TotalSeconds * Stopwatch.Frequency);
                    while (_queue.Count < _maxBatch && !_stopping)
                    {
                        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                        if (left <= TimeSpan.Zero) break;
                        Monitor.Wait(_sync, left);
                    }
                }
                while (batch.Count < _maxBatch && _queue.Count > 0)
                {
                    var item = _queue.Dequeue();
                    if (item.Done.Task.IsCompleted) item.Registration.Dispose(); // cancelled while waiting
                    else batch.Add(item);
                }
                if (batch.Count > 0)
                {
                    _batches++;
                    _inputs += batch.Count;
                    _largest = Math.Max(_largest, batch.Count);
                }
            }
            if (batch.Count > 0) Run(batch);
            batch.Clear();
        }
        lock (_sync)
            while (_queue.Count > 0) _queue.Dequeue().Done.TrySetCanceled();
    }

    private void Run(List<Item> batch)
    {
        IReadOnlyList<TOut>? outputs = null;
        Exception? error = null;
        try { outputs = Forward(batch.Select(i => i.Input).ToList(), batch.Count); }
        catch (Exception e) { error = e; }
        if (outputs is not null)
        {
            for (int i = 0; i < batch.Count; i++) batch[i].Complete(outputs[i]);
            return;
        }
        if (batch.Count == 1)
        {
            batch[0].Fail(error!);
            return;
        }
        // One input's failure must not fail the others: each runs again alone.
        foreach (var item in batch)
        {
            if (item.Done.Task.IsCompleted) { item.Registration.Dispose(); continue; }
            try { item.Complete(Forward([item.Input], 1)[0]); }
            catch (Exception e) { item.Fail(e); }
        }
    }

    private IReadOnlyList<TOut> Forward(IReadOnlyList<TIn> inputs, int count)
    {
        IReadOnlyList<TOut> outputs;
        lock (_gate) outputs = _forward(inputs);
        if (outputs.Count != count) throw new InvalidOperationException($"the batched forward returned {outputs.Count} outputs for {count} inputs");
        return outputs;
    }

    public void Dispose()
    {
        lock (_sync)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.PulseAll(_sync);
        }
        if (Thread.CurrentThread != _worker) _worker.Join();
    }

    private sealed class Item(TIn input)
    {
        public TIn Input { get; } = input;
        public TaskCompletionSource<TOut> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration { get; set; }

        public void Complete(TOut output)
        {
            Registration.Dispose();
            Done.TrySetResult(output);
        }

        public void Fail(Exception e)
        {
            Registration.Dispose();
            Done.TrySetException(e);
        }
    }
}
