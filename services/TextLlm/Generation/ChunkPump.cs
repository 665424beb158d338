using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Platform.Contracts.Chat;
using Platform.Contracts.Images;
using Platform.Inference.Engine;

namespace TextLlm.Generation;

/// <summary>
/// Turns the engine's per-step updates into bus messages: the first token leaves at once, later ones are coalesced
/// for up to <c>maxDelay</c> or <c>maxTokens</c> so a message per token does not dominate over a broker; when nothing
/// was sent for <c>heartbeat</c> (a long prefill), an empty chunk proves the worker is alive.
/// </summary>
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
        CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<GenerationUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var u in updates.WithCancellation(cancellationToken))
                {
                    channel.Writer.TryWrite(u);
                    if (u.FinishReason is not null) break; // the contract's last update; do not wait for the enumerator's end
                }
                channel.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                channel.Writer.TryComplete(ex);
            }
        }, CancellationToken.None);

        var reader = channel.Reader;
        var text = new StringBuilder();
        long sequence = 0;
        var buffered = 0;
        var completion = 0;
        var sentAnyToken = false;
        string? finish = null;
        ImageSlotStates? image = null;
        var lastSend = Stopwatch.GetTimestamp();
        var firstBuffered = 0L;

        // Sends are not awaited one by one: over a broker each waits for its publisher confirm, and chunks carry a
        // sequence number the receiver orders by, so up to MaxInFlightSends overlap; all are awaited at the end.
        var inFlight = new Queue<Task>();
        async Task FlushAsync()
        {
            if (inFlight.Count >= MaxInFlightSends) await inFlight.Dequeue();
            inFlight.Enqueue(send(new ChatCompletionChunkProduced(requestId, sequence++, text.ToString(), completion, finish, image)));
            image = null;
            sentAnyToken |= buffered > 0;
            text.Clear();
            buffered = 0;
            lastSend = Stopwatch.GetTimestamp();
        }

        try
        {
            while (true)
            {
                while (reader.TryRead(out var u))
                {
                    if (buffered == 0) firstBuffered = Stopwatch.GetTimestamp();
                    text.Append(u.TextDelta);
                    buffered += Math.Max(u.TokenIds.Count, u.TextDelta.Length > 0 ? 1 : 0);
                    completion = Math.Max(completion, u.CompletionTokens);
                    finish ??= u.FinishReason;
                    if (u.Image is { } slot)
                    {
                        // An image slot leaves at once, after the text before it, so text and images stay in order.
                        image = new ImageSlotStates(slot.Tokens, slot.Hidden, slot.HiddenStates, slot.InputEmbeddings);
                        break;
                    }
                }

                if (finish is not null || image is not null
                    || (buffered > 0 && (!sentAnyToken || buffered >= maxTokens || Stopwatch.GetElapsedTime(firstBuffered) >= maxDelay)))
                {
                    await FlushAsync();
                    if (finish is not null) break;
                    continue;
                }

                var wait = buffered > 0 ? maxDelay - Stopwatch.GetElapsedTime(firstBuffered) : heartbeat - Stopwatch.GetElapsedTime(lastSend);
                if (wait <= TimeSpan.Zero)
                {
                    if (buffered == 0) await FlushAsync(); // heartbeat: empty text, no finish reason
                    continue;
                }

                bool more;
                using (var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    timer.CancelAfter(wait);
                    try
                    {
                        more = await reader.WaitToReadAsync(timer.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        continue; // flush or heartbeat deadline
                    }
                }
                if (!more)
                {
                    await reader.Completion; // rethrows the engine's exception
                    if (finish is null)
                        throw new InvalidOperationException("The engine ended the stream without a finish reason.");
                }
            }
        }
        finally
        {
            try
            {
                while (inFlight.Count > 0) await inFlight.Dequeue();
            }
            finally
            {
                await producer;
            }
        }
    }
}
