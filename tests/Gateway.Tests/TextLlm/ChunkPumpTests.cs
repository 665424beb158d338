using System.Threading.Channels;
using Platform.Contracts.Chat;
using Platform.Inference.Engine;
using TextLlm.Generation;

namespace Gateway.Tests.TextLlm;

/// <summary>The worker's stream coalescing (lives here because the gateway hosts TextLlm in all-in-one mode).</summary>
public class ChunkPumpTests
{
    private static readonly TimeSpan Long = TimeSpan.FromHours(1);
    private readonly Guid _id = Guid.NewGuid();
    private readonly Channel<GenerationUpdate> _engine = Channel.CreateUnbounded<GenerationUpdate>();
    private readonly Channel<ChatCompletionChunkProduced> _sent = Channel.CreateUnbounded<ChatCompletionChunkProduced>();
    private int _tokens;

    private Task Run(TimeSpan maxDelay, int maxTokens, TimeSpan heartbeat, CancellationToken ct = default) =>
        ChunkPump.RunAsync(_engine.Reader.ReadAllAsync(ct), _id, c => _sent.Writer.WriteAsync(c).AsTask(), maxDelay, maxTokens, heartbeat, ct);

    private void Token(string text, string? finish = null)
    {
        _tokens++;
        _engine.Writer.TryWrite(new GenerationUpdate { TextDelta = text, TokenIds = [_tokens], CompletionTokens = _tokens, FinishReason = finish });
    }

    private async Task<ChatCompletionChunkProduced> NextSent()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await _sent.Reader.ReadAsync(bound.Token);
    }

    [Fact]
    public async Task RunAsync_FirstToken_IsSentAloneWithoutWaitingForMore()
    {
        var pump = Run(Long, 100, Long);
        Token("A");
        var first = await NextSent(); // with a one-hour delay and a 100-token batch, only "first token at once" sends this
        Assert.Equal((0L, "A", 1, (string?)null), (first.Sequence, first.TextDelta, first.CompletionTokens, first.FinishReason));
        Token("B");
        Token("C");
        Token("D", "stop");
        var rest = await NextSent();
        Assert.Equal((1L, "BCD", 4, "stop"), (rest.Sequence, rest.TextDelta, rest.CompletionTokens, rest.FinishReason));
        await pump;
        Assert.False(_sent.Reader.TryRead(out _));
    }

    [Fact]
    public async Task RunAsync_CachedPromptTokens_OnTheLastChunkOnly()
    {
        var pump = Run(Long, 100, Long);
        Token("A");
        var first = await NextSent();
        _engine.Writer.TryWrite(new GenerationUpdate { TextDelta = "B", TokenIds = [2], CompletionTokens = 2, FinishReason = "stop", CachedPromptTokens = 48 });
        var last = await NextSent();
        await pump;

        Assert.Null(first.CachedPromptTokens);
        Assert.Equal(48, last.CachedPromptTokens);
    }

    [Fact]
    public async Task RunAsync_TokenBudgetReached_FlushesBeforeTheDelay()
    {
        var pump = Run(Long, 3, Long);
        Token("a");
        Assert.Equal("a", (await NextSent()).TextDelta);
        Token("b");
        Token("c");
        Token("d");
        var batch = await NextSent(); // sent by the 3-token budget: the delay is an hour and no finish came
        Assert.Equal(("bcd", 4, (string?)null), (batch.TextDelta, batch.CompletionTokens, batch.FinishReason));
        Token("e", "length");
        var last = await NextSent();
        Assert.Equal(("e", "length"), (last.TextDelta, last.FinishReason));
        await pump;
    }

    [Fact]
    public async Task RunAsync_DelayElapsed_FlushesWithoutFinish()
    {
        var pump = Run(TimeSpan.FromMilliseconds(10), 1000, Long);
        Token("x");
        await NextSent();
        Token("y");
        var delayed = await NextSent(); // neither the budget (1000) nor a finish: only the 10 ms delay sends it
        Assert.Equal(("y", (string?)null), (delayed.TextDelta, delayed.FinishReason));
        Token("", "stop");
        Assert.Equal("stop", (await NextSent()).FinishReason);
        await pump;
    }

    [Fact]
    public async Task RunAsync_EngineSilent_SendsEmptyHeartbeats()
    {
        using var stop = new CancellationTokenSource();
        var pump = Run(Long, 100, TimeSpan.FromMilliseconds(20), stop.Token);
        var beat1 = await NextSent();
        var beat2 = await NextSent();
        Assert.Equal(("", 0, (string?)null), (beat1.TextDelta, beat1.CompletionTokens, beat1.FinishReason));
        Assert.Equal(beat1.Sequence + 1, beat2.Sequence);
        Token("z", "stop");
        ChatCompletionChunkProduced last;
        do last = await NextSent(); while (last.FinishReason is null);
        Assert.Equal("z", last.TextDelta);
        await pump;
    }

    [Fact]
    public async Task RunAsync_Cancelled_ThrowsWithoutSendingAFinish()
    {
        using var stop = new CancellationTokenSource();
        var pump = Run(Long, 100, Long, stop.Token);
        Token("a");
        await NextSent();
        Token("b");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pump);
        while (_sent.Reader.TryRead(out var c)) Assert.Null(c.FinishReason);
    }

    [Fact]
    public async Task RunAsync_SendFails_PropagatesTheFailure()
    {
        var pump = ChunkPump.RunAsync(_engine.Reader.ReadAllAsync(), _id, _ => Task.FromException(new InvalidOperationException("bus down")),
            Long, 100, Long, CancellationToken.None);
        Token("a");
        Token("b", "stop");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => pump);
        Assert.Equal("bus down", ex.Message);
    }

    [Fact]
    public async Task RunAsync_EngineThrows_PropagatesTheException()
    {
        var pump = Run(Long, 100, Long);
        Token("a");
        await NextSent();
        _engine.Writer.TryComplete(new InvalidOperationException("engine broke"));
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => pump);
        Assert.Equal("engine broke", ex.Message);
    }

    [Fact]
    public async Task RunAsync_EngineEndsWithoutFinishReason_Throws()
    {
        var pump = Run(Long, 100, Long);
        _engine.Writer.TryComplete();
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => pump);
        Assert.Contains("without a finish reason", ex.Message);
    }
}
