using Platform.Inference.Engine;
using Platform.Inference.Engine.Scheduling;
using Xunit;

namespace Platform.Inference.Tests.Engine.Scheduling;

public class AdmissionQueueTests
{
    private static List<Sequence> AdmitAll(AdmissionQueue queue, int running, int maxRunning, Func<Sequence, bool>? canHold = null)
    {
        var admitted = new List<Sequence>();
        queue.Admit(running, maxRunning, canHold ?? (_ => true), admitted.Add);
        return admitted;
    }

    [Fact]
    public void Enqueue_RunningPlusWaitingAtBound_ThrowsEngineFull()
    {
        var queue = new AdmissionQueue("tiny", maxRunning: 1, maxWaiting: 1);
        queue.Enqueue(TestSequences.Create());
        AdmitAll(queue, running: 0, maxRunning: 1);
        queue.Enqueue(TestSequences.Create());
        var e = Assert.Throws<EngineFullException>(() => queue.Enqueue(TestSequences.Create()));
        Assert.Contains("engine 'tiny' is full: 1 running, 1 waiting", e.Message);
        Assert.Equal((1, 1), queue.Counts);
    }

    [Fact]
    public void Admit_PreemptedAndWaiting_PreemptedFirstMostRecentFirst()
    {
        var queue = new AdmissionQueue("tiny", 4, 4);
        var waiting = TestSequences.Create();
        var first = TestSequences.Create();
        var second = TestSequences.Create();
        queue.Enqueue(waiting);
        queue.Preempted(first, running: 0);
        queue.Preempted(second, running: 0);
        Assert.Equal((0, 3), queue.Counts);
        Assert.Equal([second, first, waiting], AdmitAll(queue, running: 0, maxRunning: 4));
        Assert.Equal((3, 0), queue.Counts);
    }

    [Fact]
    public void Admit_HeadDoesNotFitWhileOthersRun_KeepsItsPlace()
    {
        var queue = new AdmissionQueue("tiny", 4, 4);
        var big = TestSequences.Create(promptTokens: 40);
        var small = TestSequences.Create();
        queue.Enqueue(big);
        queue.Enqueue(small);
        // The small one is not let past the head: admission is first come, first served.
        Assert.Empty(AdmitAll(queue, running: 1, maxRunning: 4, canHold: s => s != big));
        Assert.False(big.Finished);
        Assert.Equal((1, 2), queue.Counts);
        Assert.Equal([big, small], AdmitAll(queue, running: 1, maxRunning: 4));
    }

    [Fact]
    public void Admit_ResumedDoesNotFitAlone_EndsWithLength()
    {
        var queue = new AdmissionQueue("tiny", 4, 4);
        var resumed = TestSequences.Create();
        var next = TestSequences.Create();
        queue.Preempted(resumed, running: 0);
        queue.Enqueue(next);
        Assert.Empty(AdmitAll(queue, running: 0, maxRunning: 4, canHold: s => s != resumed));
        Assert.Equal("length", resumed.FinishReason);
        Assert.Equal("length", TestSequences.Updates(resumed).Last().FinishReason);
        Assert.Equal([next], AdmitAll(queue, running: 0, maxRunning: 4));
    }

    [Fact]
    public void Admit_CancelledWhileWaiting_EndsCancelledWithoutSlot()
    {
        var queue = new AdmissionQueue("tiny", 4, 4);
        using var cts = new CancellationTokenSource();
        var cancelled = TestSequences.Create(cancellation: cts.Token);
        var kept = TestSequences.Create();
        queue.Enqueue(cancelled);
        queue.Enqueue(kept);
        cts.Cancel();
        // No room at all: the cancelled one still leaves now rather than when a slot frees up.
        Assert.Empty(AdmitAll(queue, running: 4, maxRunning: 4));
        Assert.Equal("cancelled", cancelled.FinishReason);
        Assert.Equal((4, 1), queue.Counts);
        Assert.Equal([kept], AdmitAll(queue, running: 3, maxRunning: 4));
    }

    [Fact]
    public void Admit_SlotsRunOut_StopsAtMaxRunning()
    {
        var queue = new AdmissionQueue("tiny", 2, 8);
        var sequences = Enumerable.Range(0, 3).Select(_ => TestSequences.Create()).ToList();
        foreach (var s in sequences) queue.Enqueue(s);
        Assert.Equal([sequences[0]], AdmitAll(queue, running: 1, maxRunning: 2));
        Assert.Equal((2, 2), queue.Counts);
    }

    [Fact]
    public void CancelAll_WaitingAndPreempted_EndCancelled()
    {
        var queue = new AdmissionQueue("tiny", 2, 8);
        var waiting = TestSequences.Create();
        var preempted = TestSequences.Create();
        queue.Enqueue(waiting);
        queue.Preempted(preempted, running: 0);
        queue.CancelAll();
        Assert.Equal("cancelled", waiting.FinishReason);
        Assert.Equal("cancelled", preempted.FinishReason);
        Assert.Equal((0, 0), queue.Counts);
    }
}
