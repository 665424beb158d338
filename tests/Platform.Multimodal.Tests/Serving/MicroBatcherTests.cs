using Platform.Multimodal.Serving;

namespace Platform.Multimodal.Tests.Serving;

/// <summary>
/// The batching rules with a forward that records its batches. A first batch that blocks until the test releases it
/// makes the grouping deterministic: everything submitted meanwhile must go into the next batch.
/// </summary>
public sealed class MicroBatcherTests
{
    private sealed class Recorder
    {
        private readonly SemaphoreSlim _entered = new(0);
        private readonly ManualResetEventSlim _release = new(false);
        private int _calls;

        public List<int[]> Batches { get; } = [];
        public bool BlockFirst { get; init; } = true;
        public Func<int[], bool>? BlockOn { get; init; }

        public IReadOnlyList<string> Forward(IReadOnlyList<int> inputs)
        {
            lock (Batches) Batches.Add(inputs.ToArray());
            bool block = (Interlocked.Increment(ref _calls) == 1 && BlockFirst) || BlockOn?.Invoke(inputs.ToArray()) == true;
            if (block)
            {
                _entered.Release();
                if (!_release.Wait(TimeSpan.FromSeconds(60))) throw new TimeoutException("the test never released the batch");
            }
            if (inputs.Any(i => i < 0)) throw new ArgumentException($"negative input {inputs.First(i => i < 0)}");
            return inputs.Select(i => $"out{i}").ToList();
        }

        public async Task WaitEnteredAsync()
        {
            if (!await _entered.WaitAsync(TimeSpan.FromSeconds(60))) throw new TimeoutException("the forward was not entered");
        }

        public void Release() => _release.Set();
    }

    private static MicroBatcher<int, string> Batcher(Recorder r, int maxBatch = 16, TimeSpan? window = null) =>
        new("test", r.Forward, maxBatch, window ?? TimeSpan.Zero);

    [Fact]
    public async Task SubmitAsync_InputsArrivingWhileABatchRuns_GoIntoTheNextBatchEachWithItsOwnOutput()
    {
        var r = new Recorder();
        using var batcher = Batcher(r);
        var first = batcher.SubmitAsync(0);
        await r.WaitEnteredAsync();
        var rest = Enumerable.Range(1, 7).Select(i => batcher.SubmitAsync(i)).ToList();
        r.Release();

        Assert.Equal("out0", await first);
        var outputs = await Task.WhenAll(rest);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => $"out{i}"), outputs);
        Assert.Equal([[0], [1, 2, 3, 4, 5, 6, 7]], r.Batches);
        Assert.Equal(new MicroBatcherStats(2, 8, 7), batcher.Stats);
    }

    [Fact]
    public async Task SubmitAsync_MoreInputsThanMaxBatch_SplitsIntoBatchesOfAtMostMax()
    {
        var r = new Recorder();
        using var batcher = Batcher(r, maxBatch: 3);
        var first = batcher.SubmitAsync(0);
        await r.WaitEnteredAsync();
        var rest = Enumerable.Range(1, 7).Select(i => batcher.SubmitAsync(i)).ToList();
        r.Release();
        await first;
        await Task.WhenAll(rest);
        Assert.Equal([[0], [1, 2, 3], [4, 5, 6], [7]], r.Batches);
    }

    [Fact]
    public async Task SubmitAsync_OneBadInputInABatch_OnlyThatInputFails()
    {
        var r = new Recorder();
        using var batcher = Batcher(r);
        var first = batcher.SubmitAsync(0);
        await r.WaitEnteredAsync();
        var good1 = batcher.SubmitAsync(1);
        var bad = batcher.SubmitAsync(-5);
        var good2 = batcher.SubmitAsync(2);
        r.Release();

        await first;
        Assert.Equal("out1", await good1);
        Assert.Equal("out2", await good2);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => bad);
        Assert.Contains("-5", e.Message);
        // The failed batch of three, then each of its inputs alone.
        Assert.Equal([[0], [1, -5, 2], [1], [-5], [2]], r.Batches);
    }

    [Fact]
    public async Task SubmitAsync_CancelledWhileQueued_LeavesTheQueueOthersUnaffected()
    {
        var r = new Recorder();
        using var batcher = Batcher(r);
        var first = batcher.SubmitAsync(0);
        await r.WaitEnteredAsync();
        using var cts = new CancellationTokenSource();
        var a = batcher.SubmitAsync(1);
        var cancelled = batcher.SubmitAsync(2, cts.Token);
        var b = batcher.SubmitAsync(3);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        r.Release();

        await first;
        Assert.Equal("out1", await a);
        Assert.Equal("out3", await b);
        Assert.Equal([[0], [1, 3]], r.Batches);
    }

    [Fact]
    public async Task SubmitAsync_CancelledWhileItsBatchRuns_EndsCancelledAndTheOthersGetTheirOutputs()
    {
        var r = new Recorder { BlockFirst = false, BlockOn = inputs => inputs.Length > 1 };
        using var batcher = Batcher(r, window: TimeSpan.FromMinutes(5), maxBatch: 3);
        using var cts = new CancellationTokenSource();
        var a = batcher.SubmitAsync(1);
        var cancelled = batcher.SubmitAsync(2, cts.Token);
        var b = batcher.SubmitAsync(3);
        await r.WaitEnteredAsync();   // the batch [1, 2, 3] runs
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        r.Release();

        Assert.Equal("out1", await a);
        Assert.Equal("out3", await b);
        Assert.Equal([[1, 2, 3]], r.Batches);
    }

    [Fact]
    public async Task SubmitAsync_Window_WaitsUntilTheBatchIsFull()
    {
        // A window far longer than the test: the batch runs as soon as maxBatch inputs are queued, not when it ends.
        var r = new Recorder { BlockFirst = false };
        using var batcher = Batcher(r, maxBatch: 3, window: TimeSpan.FromMinutes(5));
        var outputs = new List<Task<string>>();
        for (int i = 0; i < 3; i++)
        {
            outputs.Add(batcher.SubmitAsync(i));
            await Task.Yield();
        }
        Assert.Equal(["out0", "out1", "out2"], await Task.WhenAll(outputs).WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal([[0, 1, 2]], r.Batches);
    }

    [Fact]
    public async Task Dispose_WithQueuedInputs_CancelsThemAndRefusesNewOnes()
    {
        var r = new Recorder();
        var batcher = Batcher(r);
        var first = batcher.SubmitAsync(0);
        await r.WaitEnteredAsync();
        var queued = batcher.SubmitAsync(1);
        var disposing = Task.Run(batcher.Dispose);
        var probes = new List<Task<string>>();
        while (true)   // until Dispose has begun: then submissions are refused
        {
            try { probes.Add(batcher.SubmitAsync(2)); }
            catch (ObjectDisposedException) { break; }
            await Task.Delay(1);
        }
        r.Release();
        await disposing.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("out0", await first);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        foreach (var probe in probes) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => probe);
        Assert.Equal([[0]], r.Batches);
        Assert.Throws<ObjectDisposedException>(() => { _ = batcher.SubmitAsync(3); });
    }

    [Fact]
    public async Task SubmitAsync_WithWorkerStart_ItRanFirstOnTheThreadOfEveryForward()
    {
        // Torch's intra-op thread count is per OS thread: what the start action sets must be what the forwards see.
        // One more than this thread's count, so the default alone cannot pass.
        int wanted = TorchSharp.torch.get_num_threads() + 1, startThread = -1;
        var seen = new List<(int Thread, int TorchThreads)>();
        using var batcher = new MicroBatcher<int, int>("test", inputs =>
        {
            lock (seen) seen.Add((Environment.CurrentManagedThreadId, TorchSharp.torch.get_num_threads()));
            return inputs;
        }, 4, TimeSpan.Zero, workerStart: () =>
        {
            startThread = Environment.CurrentManagedThreadId;
            _ = TorchSharp.torch.get_num_threads();
            TorchSharp.torch.set_num_threads(wanted);
        });
        for (int i = 0; i < 3; i++) Assert.Equal(i, await batcher.SubmitAsync(i));

        Assert.Equal(3, seen.Count);
        Assert.All(seen, s => Assert.Equal((startThread, wanted), s));
        Assert.NotEqual(Environment.CurrentManagedThreadId, startThread);
    }
}
