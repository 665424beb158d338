using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Chat;

namespace Platform.ServiceDefaults.Chat;

/// <summary>
/// One generation in flight: accepted by a worker, chunks arriving on this instance's endpoint. Restores chunk order
/// by sequence number (a transport may deliver concurrently), skips heartbeats, and fails with
/// <see cref="ChatErrorCodes.WorkerUnavailable"/> when nothing arrives for the idle timeout. Disposing an unfinished
/// session tells the worker to stop.
/// </summary>
public sealed class ChatCompletionSession : IAsyncDisposable
{
    // Synchronous continuations: the reader (the HTTP response) continues on the thread that delivers the chunk instead
    // of waiting for a thread-pool hop; items are written outside _gate by one drainer at a time, so order holds and no
    // lock is held while the reader runs.
    private readonly Channel<object> _items = Channel.CreateUnbounded<object>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
    private readonly SortedDictionary<long, ChatCompletionChunkProduced> _pending = new();
    private readonly Queue<object> _ready = new();
    private bool _draining;
    private CancellationTokenSource? _idle; // see WaitForItemAsync
    private CancellationToken _idleLinkedTo;
    private readonly Lock _gate = new();
    private readonly ChatStreamRouter _router;
    private readonly IBus _bus;
    private readonly PlatformMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeSpan _idleTimeout;
    private readonly long _startedAt = Stopwatch.GetTimestamp();
    private long _next;
    private long _firstTokenAt;
    private long _lastTokenAt;
    private int _completionTokens;
    private bool _accepted;
    private bool _finished;
    private bool _disposed;

    internal ChatCompletionSession(Guid requestId, string model, ChatStreamRouter router, IBus bus, PlatformMetrics metrics,
        TimeSpan idleTimeout, ILogger logger)
    {
        RequestId = requestId;
        Model = model;
        _router = router;
        _bus = bus;
        _metrics = metrics;
        _idleTimeout = idleTimeout;
        _logger = logger;
        _metrics.Waiting.WithLabels(model).Inc();
    }

    public Guid RequestId { get; }
    public string Model { get; }
    public string WorkerId { get; private set; } = "";
    public Uri? ControlAddress { get; private set; }
    public int PromptTokens { get; private set; }
    /// <summary>The prompt's token log-probabilities, when the request asked for them.</summary>
    public IReadOnlyList<PromptTokenLogprob>? PromptLogprobs { get; private set; }
    public int CompletionTokens => _completionTokens;
    /// <summary>Prompt tokens the worker served from its prefix cache (known once the last chunk arrived; 0 before).</summary>
    public int CachedPromptTokens { get; private set; }
    public string? FinishReason { get; private set; }

    internal void MarkAccepted(ChatCompletionAccepted accepted)
    {
        WorkerId = accepted.WorkerId;
        ControlAddress = accepted.ControlAddress;
        PromptTokens = accepted.PromptTokens;
        PromptLogprobs = accepted.PromptLogprobs;
        _accepted = true;
        _metrics.Waiting.WithLabels(Model).Dec();
        _metrics.Running.WithLabels(Model).Inc();
        _metrics.QueueTime.WithLabels(Model).Observe(Stopwatch.GetElapsedTime(_startedAt).TotalSeconds);
        _metrics.PromptTokens.WithLabels(Model).Inc(accepted.PromptTokens);
    }

    internal void Deliver(ChatCompletionChunkProduced chunk)
    {
        lock (_gate)
        {
            if (chunk.Sequence < _next) return; // duplicate (redelivery)
            if (chunk.Sequence == _next && _pending.Count == 0)
            {
                _ready.Enqueue(chunk);
                _next++;
            }
            else
            {
                _pending[chunk.Sequence] = chunk;
                while (_pending.Remove(_next, out var inOrder))
                {
                    _ready.Enqueue(inOrder);
                    _next++;
                }
            }
        }
        Drain();
    }

    internal void Fail(ChatCompletionFailed failed)
    {
        lock (_gate) _ready.Enqueue(failed);
        Drain();
    }

    /// <summary>Moves ready items into the channel, in order, from one thread at a time and outside the lock.</summary>
    private void Drain()
    {
        lock (_gate)
        {
            if (_draining) return; // the thread draining now takes what was just added
            _draining = true;
        }
        while (true)
        {
            object item;
            lock (_gate)
            {
                if (!_ready.TryDequeue(out item!))
                {
                    _draining = false;
                    return;
                }
            }
            _items.Writer.TryWrite(item);
        }
    }

    /// <summary>Chunks with text, an image slot or a finish reason, in order. Throws <see cref="ChatCompletionException"/> on failure.</summary>
    public async IAsyncEnumerable<ChatCompletionChunkProduced> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var chunk in ReadChunksAsync(cancellationToken).ConfigureAwait(false))
                yield return chunk;
        }
        finally
        {
            _idle?.Dispose();
            _idle = null;
        }
    }

    private async IAsyncEnumerable<ChatCompletionChunkProduced> ReadChunksAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (!_finished)
        {
            var item = _items.Reader.TryRead(out var ready) ? ready : await WaitForItemAsync(cancellationToken).ConfigureAwait(false);
            if (item is ChatCompletionFailed failed)
            {
                _finished = true;
                throw new ChatCompletionException(failed.Code, failed.Message);
            }

            var chunk = (ChatCompletionChunkProduced)item;
            var now = Stopwatch.GetTimestamp();
            var newTokens = chunk.CompletionTokens - _completionTokens;
            if (newTokens > 0)
            {
                if (_firstTokenAt == 0)
                {
                    _firstTokenAt = now;
                    _metrics.TimeToFirstToken.WithLabels(Model).Observe(Stopwatch.GetElapsedTime(_startedAt, now).TotalSeconds);
                }
                _lastTokenAt = now;
                _completionTokens = chunk.CompletionTokens;
                _metrics.GenerationTokens.WithLabels(Model).Inc(newTokens);
            }
            if (chunk.FinishReason is not null)
            {
                _finished = true;
                FinishReason = chunk.FinishReason;
                CachedPromptTokens = chunk.CachedPromptTokens ?? 0;
                _metrics.EndToEnd.WithLabels(Model).Observe(Stopwatch.GetElapsedTime(_startedAt, now).TotalSeconds);
                if (_completionTokens > 1)
                    _metrics.InterTokenLatency.WithLabels(Model)
                        .Observe(Stopwatch.GetElapsedTime(_firstTokenAt, _lastTokenAt).TotalSeconds / (_completionTokens - 1));
            }
            if (chunk.TextDelta.Length > 0 || chunk.FinishReason is not null || chunk.Image is not null || chunk.Picture is not null || chunk.Logprobs is { Count: > 0 })
                yield return chunk;
        }
    }

    /// <summary>
    /// Waits for the next item with the idle timeout. One token source serves the whole stream: its timer runs only
    /// while waiting (not while the caller handles an item) and is re-armed per wait, instead of a token source and a
    /// timer of their own per chunk.
    /// </summary>
    private async ValueTask<object> WaitForItemAsync(CancellationToken cancellationToken)
    {
        if (_idle is null || _idleLinkedTo != cancellationToken || (_idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested))
        {
            // First wait, or the timer fired just as the previous item arrived: a fresh source, so this wait gets its full time.
            _idle?.Dispose();
            _idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _idleLinkedTo = cancellationToken;
        }
        _idle.CancelAfter(_idleTimeout);
        try
        {
            return await _items.Reader.ReadAsync(_idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ChatCompletionException(ChatErrorCodes.WorkerUnavailable,
                $"Worker '{WorkerId}' sent nothing for {_idleTimeout.TotalSeconds:0.#} s while generating for model " +
                $"'{Model}'; it has probably stopped. The request was abandoned.");
        }
        finally
        {
            _idle.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _router.Remove(RequestId);
        if (_accepted) _metrics.Running.WithLabels(Model).Dec();
        else _metrics.Waiting.WithLabels(Model).Dec();
        if (_accepted && !_finished && ControlAddress is not null)
        {
            try
            {
                var endpoint = await _bus.GetSendEndpoint(ControlAddress).ConfigureAwait(false);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await endpoint.Send(new CancelChatCompletion(RequestId), timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Could not tell worker {WorkerId} to cancel request {RequestId}", WorkerId, RequestId);
            }
        }
    }
}
