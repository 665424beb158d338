using Platform.Inference.Runtime;

namespace Platform.Inference.Tests.Runtime;

public sealed class KernelWorkersTests
{
    [Theory]
    [InlineData(1, 2)]
    [InlineData(7, 2)]
    [InlineData(64, 2)]
    [InlineData(64, 3)]
    [InlineData(5, 1)]
    public void For_CountAndThreads_RunsEveryIndexOnce(int count, int threads)
    {
        // Many calls in a row: the helpers pick up each new job (spinning, or woken from sleep) and never run an
        // index of an earlier job again.
        for (int call = 0; call < 200; call++)
        {
            var hits = new int[count];
            KernelWorkers.For(count, threads, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void For_AfterHelpersSlept_StillRunsEveryIndex()
    {
        KernelWorkers.For(8, 2, _ => { });
        Thread.Sleep(50);   // past the helpers' spin window: they wait on their semaphore
        var hits = new int[8];
        KernelWorkers.For(8, 2, i => Interlocked.Increment(ref hits[i]));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void For_UsesAHelperThread_WhenWorkIsLong()
    {
        var threadIds = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        // Long enough chunks that the caller cannot take all of them before a helper starts.
        KernelWorkers.For(16, 2, _ =>
        {
            threadIds[Environment.CurrentManagedThreadId] = true;
            Thread.Sleep(5);
        });
        if (Environment.ProcessorCount > 1) Assert.True(threadIds.Count >= 2, $"{threadIds.Count} thread(s) ran the chunks");
    }

    [Fact]
    public void For_BodyThrows_RethrowsAfterEveryChunkEnded()
    {
        int finished = 0;
        var e = Assert.Throws<InvalidOperationException>(() => KernelWorkers.For(32, 2, i =>
        {
            if (i == 3) throw new InvalidOperationException("chunk 3");
            Interlocked.Increment(ref finished);
        }));
        Assert.Equal("chunk 3", e.Message);
        Assert.Equal(31, Volatile.Read(ref finished));
        // The workers are free again.
        var hits = new int[4];
        KernelWorkers.For(4, 2, i => hits[i]++);
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void For_ConcurrentAndNestedCallers_EachCompletes()
    {
        // A second caller while the workers run a job (another engine, or a loop inside a chunk) takes the
        // thread pool instead of waiting.
        var totals = new long[4];
        Parallel.For(0, 4, c =>
        {
            for (int call = 0; call < 50; call++)
                KernelWorkers.For(8, 2, i =>
                {
                    long inner = 0;
                    KernelWorkers.For(3, 2, j => Interlocked.Add(ref inner, j + 1));
                    Interlocked.Add(ref totals[c], inner);
                });
        });
        Assert.All(totals, t => Assert.Equal(50L * 8 * 6, t));
    }
}
