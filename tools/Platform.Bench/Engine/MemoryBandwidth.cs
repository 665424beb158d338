using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Platform.Bench.Engine;

/// <summary>
/// STREAM-style memory bandwidth (McCalpin): copy a[i] = b[i] and triad a[i] = b[i] + s*c[i] over arrays far larger
/// than the caches, split across threads with Parallel.For. Bytes counted as STREAM does (copy 2 arrays, triad 3).
/// Single-stream decode of a float32 model reads every weight once per token, so bandwidth / weight bytes bounds it.
/// </summary>
internal static unsafe class MemoryBandwidth
{
    public sealed record Result(double CopyGBs, double TriadGBs, long ArrayBytes, int Threads);

    public static Result Measure(int threads, long arrayBytes = 256L << 20, int repeats = 5)
    {
        long n = arrayBytes / sizeof(float);
        n -= n % (Vector<float>.Count * threads);
        var a = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
        var b = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
        var c = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
        try
        {
            var opts = new ParallelOptions { MaxDegreeOfParallelism = threads };
            long chunk = n / threads;
            // First touch in parallel, as each thread will use its part.
            Parallel.For(0, threads, opts, t =>
            {
                new Span<float>(a + t * chunk, (int)chunk).Fill(0f);
                new Span<float>(b + t * chunk, (int)chunk).Fill(1f);
                new Span<float>(c + t * chunk, (int)chunk).Fill(2f);
            });
            double bestCopy = double.MaxValue, bestTriad = double.MaxValue;
            for (int r = 0; r < repeats; r++)
            {
                var sw = Stopwatch.StartNew();
                Parallel.For(0, threads, opts, t => Copy(a + t * chunk, b + t * chunk, chunk));
                bestCopy = Math.Min(bestCopy, sw.Elapsed.TotalSeconds);
                sw.Restart();
                Parallel.For(0, threads, opts, t => Triad(a + t * chunk, b + t * chunk, c + t * chunk, chunk, 3f));
                bestTriad = Math.Min(bestTriad, sw.Elapsed.TotalSeconds);
            }
            if (a[n / 2] != 1f + 3f * 2f) throw new InvalidOperationException("bandwidth kernel produced a wrong result");
            double bytes = n * (double)sizeof(float);
            return new Result(2 * bytes / bestCopy / 1e9, 3 * bytes / bestTriad / 1e9, (long)bytes, threads);
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }

    /// <summary>
    /// Read-only bandwidth over a buffer of <paramref name="bytes"/> (the weights' size): what a decode step does,
    /// every weight read once, nothing written. Best of <paramref name="repeats"/>, GB/s.
    /// </summary>
    public static double MeasureRead(int threads, long bytes, int repeats = 5)
    {
        long n = bytes / sizeof(float);
        n -= n % (Vector<float>.Count * threads);
        var a = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
        try
        {
            var opts = new ParallelOptions { MaxDegreeOfParallelism = threads };
            long chunk = n / threads;
            Parallel.For(0, threads, opts, t => new Span<float>(a + t * chunk, (int)chunk).Fill(1f));
            double best = double.MaxValue;
            var sums = new float[threads];
            for (int r = 0; r < repeats; r++)
            {
                var sw = Stopwatch.StartNew();
                Parallel.For(0, threads, opts, t => sums[t] = Sum(a + t * chunk, chunk));
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            if (sums[0] <= 0) throw new InvalidOperationException("read kernel produced a wrong result");
            return n * (double)sizeof(float) / best / 1e9;
        }
        finally
        {
            NativeMemory.AlignedFree(a);
        }
    }

    /// <summary>Sum with four independent vector accumulators (one chain would wait on the add latency, not memory).</summary>
    private static float Sum(float* a, long count)
    {
        Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int w = Vector<float>.Count;
        long i = 0;
        for (; i + 4 * w <= count; i += 4 * w)
        {
            s0 += *(Vector<float>*)(a + i);
            s1 += *(Vector<float>*)(a + i + w);
            s2 += *(Vector<float>*)(a + i + 2 * w);
            s3 += *(Vector<float>*)(a + i + 3 * w);
        }
        float rest = 0;
        for (; i < count; i++) rest += a[i];
        return Vector.Sum(s0 + s1 + s2 + s3) + rest;
    }

    private static void Copy(float* dst, float* src, long count)
    {
        // Spans hold at most int.MaxValue elements: walk in blocks.
        for (long off = 0; off < count; off += 1 << 24)
        {
            int len = (int)Math.Min(1 << 24, count - off);
            new Span<float>(src + off, len).CopyTo(new Span<float>(dst + off, len));
        }
    }

    private static void Triad(float* a, float* b, float* c, long count, float s)
    {
        var vs = new Vector<float>(s);
        for (long off = 0; off < count; off += 1 << 24)
        {
            int len = (int)Math.Min(1 << 24, count - off);
            var va = MemoryMarshal.Cast<float, Vector<float>>(new Span<float>(a + off, len));
            var vb = MemoryMarshal.Cast<float, Vector<float>>(new ReadOnlySpan<float>(b + off, len));
            var vc = MemoryMarshal.Cast<float, Vector<float>>(new ReadOnlySpan<float>(c + off, len));
            for (int i = 0; i < va.Length; i++) va[i] = vb[i] + vs * vc[i];
        }
    }
}
