using System.Diagnostics;
using System.Text;
using Platform.Contracts.Chat;
using Platform.Contracts.Images;
using Platform.Inference.Engine;

namespace TextLlm.Generation;

/// <summary>
/// Turns the engine's per-step updates into bus messages: the first token leaves at once, later ones are coalesced
/// for up to <c>maxDelay</c> or <c>maxTokens</c> so a message per token does not dominate over a broker; when nothing
/// was sent for <c>heartbeat</c> (a long prefill), an empty chunk proves the worker is alive.
/// </summary>
/// <remarks>
/// Updates are handled on the thread that delivers them (no hand-off to a second loop), and the deadlines are kept by
/// one timer per request that is re-armed only when a deadline moves earlier, so a token costs no extra thread hop and
/// no timer of its own: on small CPU hosts every extra wake-up per token competes with the engine's OpenMP threads.
/// An image-token model's worker passes <c>pictures</c>: it turns the update that ends a picture into the PNG the chunk
/// carries, which leaves at once (like a GILL image slot) so text and pictures stay in order.
/// </remarks>
public static class ChunkPump
{
    private const int MaxInFlightSends = 8;

    public static async Task RunAsync(
        IAsyncEnumerable<GenerationUpdate> updates,
        Guid requestId,
        Func<ChatCompletionChunkProduced, Task> send,
        TimeSpan maxDelay,
        int maxTokens,
        TimeSpan heartbeat,
        CancellationToken cancellationToken,
        Func<GenerationUpdate, DecodedPicture?>? pictures = null)
    {
        var state = new State(requestId, send, maxDelay, maxTokens, heartbeat, pictures);
        try
        {
            await using (var e = updates.GetAsyncEnumerator(cancellationToken))
            {
                while (true)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (!await e.MoveNextAsync().ConfigureAwait(false))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        throw new InvalidOperationException("The engine ended the stream without a finish reason.");
                    }
                    cancellationToken.ThrowIfCancellationRequested();
                    // The contract's last update: do not wait for the enumerator's end.
                    if (await state.OnUpdateAsync(e.Current).ConfigureAwait(false)) break;
                }
            }
        }
        finally
        {
            await state.StopAsync().ConfigureAwait(false);
        }
    }

    private sealed class State
    {
        private readonly Lock _gate = new();
        private readonly Guid _requestId;
        private readonly Func<ChatCompletionChunkProduced, Task> _send;
        private readonly long _maxDelay;
        private readonly int _maxTokens;
        private readonly long _heartbeat;
        private readonly Timer _timer;
        private readonly Func<GenerationUpdate, DecodedPicture?>? _pictures;
        // Sends are not awaited one by one: over a broker each waits for its publisher confirm, and chunks carry a
        // sequence number the receiver orders by, so up to MaxInFlightSends overlap; all are awaited at the end.
        private readonly Queue<Task> _inFlight = new();
        private readonly StringBuilder _text = new();
        private readonly List<GeneratedTokenLogprob> _logprobs = new();
        private long _sequence;
        private int _buffered;
        private int _completion;
        private int _cachedPrompt;
        private bool _firstTokenPending = true; // the first token leaves at once
        private bool _stopped;
        private string? _finish;
        private ImageSlotStates? _image;
        private DecodedPicture? _picture;
        private IReadOnlyList<ChatToolCall>? _toolCalls;
        private long _lastSend;
        private long _firstBuffered;
        private long _timerDue; // Stopwatch timestamp the timer is armed for; long.MaxValue when disarmed

        public State(Guid requestId, Func<ChatCompletionChunkProduced, Task> send, TimeSpan maxDelay, int maxTokens, TimeSpan heartbeat,
            Func<GenerationUpdate, DecodedPicture?>? pictures)
        {
            _pictures = pictures;
            _requestId = requestId;
            _send = send;
            _maxDelay = ToTicks(maxDelay);
            _maxTokens = maxTokens;
            _heartbeat = ToTicks(heartbeat);
            _lastSend = Stopwatch.GetTimestamp();
            _timerDue = long.MaxValue;
            _timer = new Timer(static s => ((State)s!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
            lock (_gate) ArmLocked(_lastSend + _heartbeat, _lastSend);
        }

        private static long ToTicks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

        /// <summary>Takes one engine update; returns true after the last one (its finish reason was sent).</summary>
        public async ValueTask<bool> OnUpdateAsync(GenerationUpdate u)
        {
            // Decoded outside the lock: the timer's heartbeats must not wait for the VQ decoder.
            var picture = _pictures?.Invoke(u);
            Task? wait = null;
            bool last;
            lock (_gate)
            {
                var now = Stopwatch.GetTimestamp();
                if (_buffered == 0) _firstBuffered = now;
                _text.Append(u.TextDelta);
                _buffered += Math.Max(u.TokenIds.Count, u.TextDelta.Length > 0 ? 1 : 0);
                _completion = Math.Max(_completion, u.CompletionTokens);
                _cachedPrompt = Math.Max(_cachedPrompt, u.CachedPromptTokens);
                _finish ??= u.FinishReason;
                if (u.Logprobs is { } lp)
                    foreach (var t in lp)
                        _logprobs.Add(new GeneratedTokenLogprob(t.Bytes, t.Logprob, t.Top.Select(a => new AlternativeTokenLogprob(a.Bytes, a.Logprob)).ToList()));
                if (u.Image is { } slot) // an image slot leaves at once, after the text before it, so text and images stay in order
                    _image = new ImageSlotStates(slot.Tokens, slot.Hidden, slot.HiddenStates, slot.InputEmbeddings);
                if (picture is not null) _picture = picture;
                if (u.ToolCalls is { } calls) _toolCalls = calls.Select(c => new ChatToolCall(c.Id, c.Name, c.ArgumentsJson)).ToList();
                last = _finish is not null;

                if (last || _image is not null || _picture is not null
                    || (_buffered > 0 && (_firstTokenPending || _buffered >= _maxTokens || now - _firstBuffered >= _maxDelay)))
                {
                    if (_inFlight.Count >= MaxInFlightSends) wait = _inFlight.Dequeue();
                    FlushLocked(now);
                    if (last) _stopped = true;
                    else ArmLocked(now + _heartbeat, now);
                }
                else if (_buffered > 0)
                {
                    ArmLocked(_firstBuffered + _maxDelay, now);
                }
            }
            if (wait is not null) await wait.ConfigureAwait(false);
            return last;
        }

        private void OnTimer()
        {
            lock (_gate)
            {
                if (_stopped) return;
                var now = Stopwatch.GetTimestamp();
                _timerDue = long.MaxValue;
                if (_buffered > 0)
                {
                    if (now - _firstBuffered >= _maxDelay) FlushLocked(now);
                }
                else if (now - _lastSend >= _heartbeat)
                {
                    FlushLocked(now); // heartbeat: empty text, no finish reason
                }
                ArmLocked(_buffered > 0 ? _firstBuffered + _maxDelay : _lastSend + _heartbeat, now);
            }
        }

        /// <summary>Makes the timer fire by <paramref name="due"/>; an earlier arming stays (it re-arms itself when it fires).</summary>
        private void ArmLocked(long due, long now)
        {
            if (due >= _timerDue) return;
            _timerDue = due;
            var ms = Math.Max(0, (due - now) * 1000 / Stopwatch.Frequency) + 1; // +1: never fire before the deadline
            _timer.Change(ms, Timeout.Infinite);
        }

        private void FlushLocked(long now)
        {
            _inFlight.Enqueue(SendSafely(new ChatCompletionChunkProduced(_requestId, _sequence++, _text.ToString(), _completion, _finish, _image,
                _logprobs.Count > 0 ? _logprobs.ToList() : null, _toolCalls, _finish is not null ? _cachedPrompt : null, _picture)));
            _toolCalls = null;
            _picture = null;
            _image = null;
            _logprobs.Clear();
            if (_buffered > 0) _firstTokenPending = false;
            _text.Clear();
            _buffered = 0;
            _lastSend = now;
        }

        private Task SendSafely(ChatCompletionChunkProduced chunk)
        {
            try
            {
                return _send(chunk);
            }
            catch (Exception ex)
            {
                return Task.FromException(ex);
            }
        }

        /// <summary>Stops the timer and waits for every send; the first failed send is rethrown.</summary>
        public async Task StopAsync()
        {
            lock (_gate) _stopped = true;
            await _timer.DisposeAsync().ConfigureAwait(false);
            Task[] pending;
            lock (_gate)
            {
                pending = [.. _inFlight];
                _inFlight.Clear();
            }
            foreach (var t in pending) await t.ConfigureAwait(false);
        }
    }
}
