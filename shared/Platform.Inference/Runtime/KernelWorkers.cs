using System.Diagnostics;

namespace Platform.Inference.Runtime;

/// <summary>
/// Persistent worker threads for the span kernels' parallel loops (GEMM row chunks, attention rows): the caller
/// publishes a job, helpers that are spinning pick it up within a microsecond or so, and everyone takes chunks from
/// one counter. Why not Parallel.For: a decode step makes ~120 parallel calls (four GEMMs per layer, 30 layers,
/// plus attention and the head), each a few to a few tens of microseconds of work, and handing each to the thread
/// pool costs several microseconds and more when its workers have gone to sleep between calls. llama.cpp's
/// ggml threadpool does the same: workers poll for the next graph node and sleep only after a while without work.
/// </summary>
/// <remarks>
/// One job at a time per process: a caller that finds the workers busy (another engine's step, a nested loop)
/// runs its loop on Parallel.For instead, so nothing ever waits on another caller's job. Helpers spin for
/// <see cref="SpinTicks"/> after their last job, then sleep on a semaphore until the next one (an idle engine
/// costs no CPU). Each job is its own object, so a helper that wakes late can only find an exhausted counter.
/// </remarks>
internal static class KernelWorkers
{
    /// <summary>How long a helper keeps polling after a job before it sleeps: longer than the gaps between a decode
    /// step's parallel calls (norms, rotary, sampling between them), short enough that an idle engine stops burning CPU.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 1000;   // 1 ms

    private static readonly object Gate = new();
    private static Helper[] _helpers = [];
    private static Job? _job;
    private static int _busy;

    /// <summary>
    /// body(i) for i in [0, count), on the calling thread and up to <paramref name="threads"/> - 1 helpers, chunks
    /// taken dynamically (a descheduled helper delays the loop by one chunk at most). Exceptions reach the caller.
    /// </summary>
    public static void For(int count, int threads, Action<int> body)
    {
        if (count <= 0) return;
        threads = Math.Min(threads, Math.Min(count, Environment.ProcessorCount));
        if (threads <= 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            // The same contract on the thread pool: every chunk runs, the first exception is rethrown as itself.
            var pooled = new Job(body, count, 0);
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => pooled.Work());
            pooled.ThrowIfFailed();
            return;
        }
        try
        {
            var helpers = EnsureHelpers(threads - 1);
            var job = new Job(body, count, threads - 1);
            Interlocked.Exchange(ref _job, job);   // a full fence: the job is visible before any sleeper is checked
            for (int h = 0; h < job.Helpers; h++) helpers[h].Wake();
            job.Work();
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Done) < count) spin.SpinOnce(sleep1Threshold: -1);
            job.ThrowIfFailed();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static Helper[] EnsureHelpers(int count)
    {
        var helpers = Volatile.Read(ref _helpers);
        if (helpers.Length >= count) return helpers;
        lock (Gate)
        {
            helpers = _helpers;
            if (helpers.Length >= count) return helpers;
            var grown = new Helper[count];
            helpers.CopyTo(grown, 0);
            for (int h = helpers.Length; h < count; h++) grown[h] = new Helper(h);
            Volatile.Write(ref _helpers, grown);
            return grown;
        }
    }

    private sealed class Job(Action<int> body, int count, int helpers)
    {
        public readonly int Helpers = helpers;
        public int Next;
        public int Done;
        public Exception? Error;

        public void ThrowIfFailed()
        {
            if (Volatile.Read(ref Error) is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }

        /// <summary>Takes chunks until none is left.</summary>
        public void Work()
        {
            int i;
            while ((i = Interlocked.Increment(ref Next) - 1) < count)
            {
                try { body(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref Error, e, null); }
                finally { Interlocked.Increment(ref Done); }
            }
        }
    }

    private sealed class Helper
    {
        private readonly int _index;
        private readonly SemaphoreSlim _wake = new(0);
        private int _sleeping;

        public Helper(int index)
        {
            _index = index;
            new Thread(Loop) { IsBackground = true, Name = $"kernel-worker-{index}" }.Start();
        }

        /// <summary>Releases the helper if it sleeps (the caller has published the job before calling).</summary>
        public void Wake()
        {
            if (Interlocked.Exchange(ref _sleeping, 0) == 1) _wake.Release();
        }

        private void Loop()
        {
            Job? last = null;
            long idleSince = Stopwatch.GetTimestamp();
            while (true)
            {
                var job = Volatile.Read(ref _job);
                if (job != last)
                {
                    last = job;
                    if (job is not null && _index < job.Helpers) job.Work();
                    idleSince = Stopwatch.GetTimestamp();
                    continue;
                }
                if (Stopwatch.GetTimestamp() - idleSince < SpinTicks)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                // Announce the sleep with a full fence, then look once more: a job published before the
                // announcement is seen here, one published after it finds _sleeping set and releases us.
                Interlocked.Exchange(ref _sleeping, 1);
                if (Volatile.Read(ref _job) == last) _wake.Wait();
                Interlocked.Exchange(ref _sleeping, 0);
                idleSince = Stopwatch.GetTimestamp();
            }
        }
    }
}
