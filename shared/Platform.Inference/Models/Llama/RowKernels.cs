using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Platform.Inference.Quantization;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Llama;

/// <summary>
/// The few loops of single-token decode that run on raw float spans instead of torch ops.
/// Why hand-written: a one-token decode step is ~20 tiny ops per layer; through TorchSharp each costs ~3-6 us of
/// dispatch, and libtorch's GEMV for a [1, H] input streams the weights at ~9-11 GB/s where a row-by-row dot
/// product (TensorPrimitives.Dot, the vector library doing the arithmetic) reaches the memory's ~16 GB/s per core
/// (measured: 513 MiB of SmolLM-shaped weights, one thread). Decode is memory-bound (every weight is read once per
/// token), so these loops are all about reading each weight once, contiguously. Batched decode (a few rows) is
/// compute-bound instead, where libtorch reaches ~25 GFLOP/s on one core for 16 rows and a register-blocked kernel
/// ~55 (the <see cref="Gemm"/> comment has the layout).
/// </summary>
/// <remarks>Every method is compiled fully optimised at first call ([AggressiveOptimization]): under tiered
/// compilation these loops start unoptimised, and a freshly started server decoded several times slower for its
/// first requests (measured on the demo model: an image request took 90 ms at first, 10.7 ms after 30).</remarks>
internal static unsafe class RowKernels
{
    /// <summary>Most rows (tokens) the span kernels take; larger inputs (prefill) are compute-bound and go to libtorch's GEMM.</summary>
    public const int MaxKernelRows = 64;

    /// <summary>
    /// F.linear for inference: x [..., in] times weight [out, in]^T (+ bias). Decode-sized inputs (at most
    /// <see cref="MaxKernelRows"/> rows, CPU float32, no autograd) run on <see cref="Gemm"/>; anything else is
    /// nn.functional.linear. Measured on SmolLM shapes (one thread, 16 rows): libtorch 25 GFLOP/s, this 53-64.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        long cols = weight.shape[1];
        long rows = x.numel() / Math.Max(1, cols);
        if (rows > MaxKernelRows || rows == 0 || is_grad_enabled() || !IsPlainCpuFloat(weight) || !IsPlainCpuFloat(bias)
            || x.device_type != TorchSharp.DeviceType.CPU || x.dtype != ScalarType.Float32 || x.shape[^1] != cols)
            return nn.functional.linear(x, weight, bias);
        var input = x.is_contiguous() ? x : x.contiguous();
        var shape = x.shape.ToArray();
        shape[^1] = weight.shape[0];
        var y = empty(shape);
        Gemm(weight, bias, Floats(input), Floats(y), (int)rows, get_num_threads());
        return y;
    }

    /// <summary>
    /// F.linear through the weight's inference storage: <paramref name="quantized"/> when the weight is quantized
    /// (any number of rows: the integer kernels serve decode, batched decode and prefill alike), else
    /// <see cref="Linear(Tensor, Tensor, Tensor?)"/> on the float32 weight.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias, QuantizedMatrix? quantized)
    {
        if (quantized is null) return Linear(x, weight, bias);
        if (is_grad_enabled()) throw new InvalidOperationException("quantized weights are for inference only (run under no_grad)");
        if (x.device_type != TorchSharp.DeviceType.CPU || x.dtype != ScalarType.Float32 || x.shape[^1] != quantized.Cols)
            throw new ArgumentException($"quantized linear needs CPU float32 input [..., {quantized.Cols}], got {x.dtype} [{string.Join(", ", x.shape)}] on {x.device_type}");
        var input = x.is_contiguous() ? x : x.contiguous();
        var shape = x.shape.ToArray();
        shape[^1] = quantized.Rows;
        var y = empty(shape);
        int rows = (int)(x.numel() / quantized.Cols);
        if (rows > 0) quantized.Gemm(Floats(input), Floats(y), rows, get_num_threads(), bias is null ? default : Floats(bias.contiguous()));
        return y;
    }

    /// <summary><see cref="Gemm(Tensor, Tensor?, ReadOnlySpan{float}, Span{float}, int, int)"/> on the quantized
    /// weight when there is one.</summary>
    public static void Gemm(Tensor weight, QuantizedMatrix? quantized, Tensor? bias, ReadOnlySpan<float> x, Span<float> y, int batch, int threads)
    {
        if (quantized is null) Gemm(weight, bias, x, y, batch, threads);
        else quantized.Gemm(x, y, batch, threads, bias is null ? default : Floats(bias));
    }

    /// <summary>
    /// Y [batch, out] = X [batch, in] W^T (+ b) for a row-major float32 weight, weight rows split across threads.
    /// One row is a GEMV (each weight read once, row by row); several rows use a 4x2 register-blocked kernel so
    /// each loaded weight vector serves two inputs (decode batches are compute-bound at ~16 rows on two cores).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gemm(Tensor weight, Tensor? bias, ReadOnlySpan<float> x, Span<float> y, int batch, int threads)
    {
        int rows = (int)weight.shape[0], cols = (int)weight.shape[1];
        if (x.Length != batch * cols || y.Length != batch * rows)
            throw new ArgumentException($"GEMM shapes: weight [{rows}, {cols}], x {x.Length}, y {y.Length}, batch {batch}");
        var w = Floats(weight);
        fixed (float* pw = w, px = x, py = y)
        {
            // Below ~256 KiB of weight work a second thread costs more in hand-off than it saves.
            int parts = (long)rows * cols * batch < 65_536 ? 1 : Math.Max(1, Math.Min(threads, rows / 64));
            if (parts == 1) Block(pw, px, py, 0, rows, cols, batch, rows);
            else
            {
                // Several chunks per thread, taken dynamically: on a shared machine a descheduled worker then
                // delays the step by one chunk, not by half the matrix (the calling thread takes what is left).
                int chunks = Math.Min(parts * 4, rows / 16);
                nint wp = (nint)pw, xp = (nint)px, yp = (nint)py;
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = parts }, chunk =>
                {
                    // Boundaries on multiples of 4 rows keep every chunk on the blocked kernel.
                    int r0 = (int)((long)rows * chunk / chunks) & ~3;
                    int r1 = chunk == chunks - 1 ? rows : (int)((long)rows * (chunk + 1) / chunks) & ~3;
                    Block((float*)wp, (float*)xp, (float*)yp, r0, r1, cols, batch, rows);
                });
            }
        }
        if (bias is not null)
        {
            var b = Floats(bias);
            for (int i = 0; i < batch; i++) TensorPrimitives.Add(y.Slice(i * rows, rows), b, y.Slice(i * rows, rows));
        }
    }

    /// <summary>Weight rows [r0, r1) against all inputs; y is [batch, rows].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(float* w, float* x, float* y, int r0, int r1, int cols, int batch, int rows)
    {
        int r = r0;
        int vectorCols = Vector256.IsHardwareAccelerated ? cols & ~7 : 0;
        if (batch >= 2 && vectorCols == cols)
        {
            // While the input pairs run over this 4-row block (in L1 after the first pair), the next block is
            // prefetched in equal parts per pair: the weights stream from memory under the arithmetic instead of
            // stalling the first pair of every block (measured on a 113 MB weight, 16 rows: 44 -> 58-64 GFLOP/s).
            int blockLines = 4 * cols * sizeof(float) / 64, pairs = batch / 2, linesPerPair = (blockLines + pairs - 1) / pairs;
            for (; r + 4 <= r1; r += 4)
            {
                byte* next = (byte*)(w + (long)(r + 4) * cols);
                bool prefetch = Sse.IsSupported && r + 8 <= r1;
                int b = 0;
                for (int pair = 0; b + 2 <= batch; b += 2, pair++)
                {
                    if (prefetch)
                        for (int line = pair * linesPerPair, end = Math.Min(blockLines, line + linesPerPair); line < end; line++)
                            Sse.Prefetch0(next + line * 64);
                    Kernel4x2(w + (long)r * cols, x + (long)b * cols, y + (long)b * rows + r, cols, rows);
                }
                for (; b < batch; b++) DotRows(w, x + (long)b * cols, y + (long)b * rows, r, r + 4, cols);
            }
        }
        for (int b = 0; b < batch; b++) DotRows(w, x + (long)b * cols, y + (long)b * rows, r, r1, cols);
    }

    /// <summary>4 weight rows x 2 inputs: 8 accumulators, each weight vector loaded once for both inputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x2(float* w0, float* x0, float* y0, int cols, int rows)
    {
        float* w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols, x1 = x0 + cols;
        var a00 = Vector256<float>.Zero; var a01 = a00; var a10 = a00; var a11 = a00;
        var a20 = a00; var a21 = a00; var a30 = a00; var a31 = a00;
        for (int k = 0; k < cols; k += 8)
        {
            var v0 = Vector256.Load(x0 + k);
            var v1 = Vector256.Load(x1 + k);
            var c = Vector256.Load(w0 + k); a00 = Vector256.FusedMultiplyAdd(c, v0, a00); a01 = Vector256.FusedMultiplyAdd(c, v1, a01);
            c = Vector256.Load(w1 + k); a10 = Vector256.FusedMultiplyAdd(c, v0, a10); a11 = Vector256.FusedMultiplyAdd(c, v1, a11);
            c = Vector256.Load(w2 + k); a20 = Vector256.FusedMultiplyAdd(c, v0, a20); a21 = Vector256.FusedMultiplyAdd(c, v1, a21);
            c = Vector256.Load(w3 + k); a30 = Vector256.FusedMultiplyAdd(c, v0, a30); a31 = Vector256.FusedMultiplyAdd(c, v1, a31);
        }
        float* y1 = y0 + rows;
        y0[0] = Vector256.Sum(a00); y0[1] = Vector256.Sum(a10); y0[2] = Vector256.Sum(a20); y0[3] = Vector256.Sum(a30);
        y1[0] = Vector256.Sum(a01); y1[1] = Vector256.Sum(a11); y1[2] = Vector256.Sum(a21); y1[3] = Vector256.Sum(a31);
    }

    /// <summary>y[r] = w[r] . x for r in [r0, r1): one input, each weight row streamed once (GEMV).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotRows(float* w, float* x, float* y, int r0, int r1, int cols)
    {
        var xs = new ReadOnlySpan<float>(x, cols);
        for (int r = r0; r < r1; r++) y[r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(w + (long)r * cols, cols), xs);
    }

    /// <summary>body(row) for rows 0..n-1, spread over threads when there are several rows (they must be independent).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForRows(int rows, int threads, Action<int> body)
    {
        if (rows == 1 || threads <= 1)
        {
            for (int row = 0; row < rows; row++) body(row);
            return;
        }
        Parallel.For(0, rows, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }

    /// <summary>HF apply_rotary_pos_emb on one head in place: x*cos + rotate_half(x)*sin, with the sin row stored
    /// sign-folded (first half negated, see <see cref="LlamaRotaryEmbedding"/>) so rotate_half is a swap of halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rotate(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> signedSin, Span<float> scratch)
    {
        int half = head.Length / 2;
        head.CopyTo(scratch);
        var a = scratch[..half];
        var b = scratch[half..];
        // first half: a*cos + b*sin; second half: b*cos + a*sin (torch: x*cos + roll(x, half)*sin)
        TensorPrimitives.Multiply(a, cos[..half], head[..half]);
        TensorPrimitives.FusedMultiplyAdd(b, signedSin[..half], head[..half], head[..half]);
        TensorPrimitives.Multiply(b, cos[half..], head[half..]);
        TensorPrimitives.FusedMultiplyAdd(a, signedSin[half..], head[half..], head[half..]);
    }

    /// <summary>
    /// The query heads of one kv group over that group's keys/values [L, D] (contiguous rows of the KV cache):
    /// softmax(q K^T * scale) V per head, what scaled_dot_product_attention computes for one row with no mask
    /// (decode attends to every cached key). Inline vector loops: at D = 64 a library call per key row costs more
    /// than the row's arithmetic. Both products keep eight independent accumulator chains in registers (eight keys
    /// at a time for q K^T, reduced together; two keys x four column blocks for p V): one chain per dot product,
    /// as this first did, waited on the FMA latency, and attention took ~18% of a 16-row SmolLM decode step at
    /// position 160 (measured).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttendGroup(ReadOnlySpan<float> queries, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int heads, int d, int length, float scale, Span<float> scores, Span<float> output)
    {
        if (keys.Length < length * d || values.Length < length * d)
            throw new ArgumentException("attention buffer sizes do not match heads x head_dim x length");
        // One block holding every key: the paged kernel with a one-entry table reads the rows in the same order.
        ReadOnlySpan<int> table = [0];
        AttendGroupPaged(queries, keys, values, table, 31, 0, 0, heads, d, length, scale, scores, output);
    }

    /// <summary>
    /// <see cref="AttendGroup"/> over a paged cache: key/value row j of this kv head starts at
    /// blocks[j >> blockShift] * blockStride + headOffset + (j mod 2^blockShift) * d in <paramref name="keys"/> and
    /// <paramref name="values"/> (the pools). Blocks hold a power of two of at least 8 rows, so the eight keys scored
    /// together and the two values summed together always share a block, and the arithmetic (order included) is
    /// that of one contiguous buffer: the results are bitwise the same.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttendGroupPaged(ReadOnlySpan<float> queries, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        ReadOnlySpan<int> blocks, int blockShift, long blockStride, long headOffset,
        int heads, int d, int length, float scale, Span<float> scores, Span<float> output)
    {
        if (queries.Length != heads * d || output.Length != heads * d || scores.Length < heads * length)
            throw new ArgumentException("attention buffer sizes do not match heads x head_dim x length");
        if (blockShift is < 3 or > 31 || length < 1 || (long)blocks.Length << blockShift < length)
            throw new ArgumentException($"block table of {blocks.Length} blocks of 2^{blockShift} does not cover {length} keys");
        long mask = (1L << blockShift) - 1;
        long last = Math.Min(length, 1L << blockShift);
        for (int b = 0; b < blocks.Length && (long)b << blockShift < length; b++)
        {
            long rows = Math.Min(last, length - ((long)b << blockShift));
            long end = blocks[b] * blockStride + headOffset + rows * d;
            if (blocks[b] < 0 || end > keys.Length || end > values.Length) throw new ArgumentException($"block {blocks[b]} lies outside the pool");
        }
        fixed (float* q = queries, k = keys, v = values, s = scores, o = output)
        fixed (int* table = blocks)
        {
            bool vector = Vector256.IsHardwareAccelerated && d % 8 == 0;
            for (int h = 0; h < heads; h++)
            {
                float* qh = q + h * d, sh = s + h * length;
                int j = 0;
                if (vector)
                    for (; j + 8 <= length; j += 8)
                        (ScoreBlock8(qh, k + table[j >> blockShift] * blockStride + headOffset + (j & mask) * d, d) * scale).Store(sh + j);   // 8 rows never straddle a block
                for (; j < length; j++)
                    sh[j] = TensorPrimitives.Dot(new ReadOnlySpan<float>(qh, d), new ReadOnlySpan<float>(k + table[j >> blockShift] * blockStride + headOffset + (j & mask) * d, d)) * scale;
                var row = new Span<float>(sh, length);
                TensorPrimitives.SoftMax(row, row);
                if (vector) WeightedSum(sh, v, table, blockShift, blockStride, headOffset, o + h * d, d, length);
                else
                {
                    var oh = new Span<float>(o + h * d, d);
                    oh.Clear();
                    for (j = 0; j < length; j++)
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(v + table[j >> blockShift] * blockStride + headOffset + (j & mask) * d, d), sh[j], oh, oh);
                }
            }
        }
    }

    /// <summary>q . k[0..7] for eight consecutive key rows of width d (a multiple of 8), as one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> ScoreBlock8(float* q, float* k, int d)
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
        for (int i = 0; i < d; i += 8)
        {
            var qv = Vector256.Load(q + i);
            float* ki = k + i;
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(ki), qv, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(ki + d), qv, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(ki + 2 * d), qv, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(ki + 3 * d), qv, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(ki + 4 * d), qv, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(ki + 5 * d), qv, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Load(ki + 6 * d), qv, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Load(ki + 7 * d), qv, a7);
        }
        if (Avx.IsSupported)
        {
            // Transpose-and-add: hadd pairs within 128-bit lanes, then add the two lanes: 6 hadds, 2 permutes and
            // one add reduce all eight (eight separate horizontal sums cost ~4x that).
            var h0123 = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
            var h4567 = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
            return Avx.Permute2x128(h0123, h4567, 0x20) + Avx.Permute2x128(h0123, h4567, 0x31);
        }
        return Vector256.Create(Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3),
            Vector256.Sum(a4), Vector256.Sum(a5), Vector256.Sum(a6), Vector256.Sum(a7));
    }

    /// <summary>o[0..d) = sum_j p[j] v[j] over value rows of width d (a multiple of 8), row j located as in
    /// <see cref="AttendGroupPaged"/>; accumulates in registers. Keys go block by block (rows of one block are d
    /// apart), two at a time into the even and odd chains; a block holds an even number of rows, so the pairs and the
    /// order of the sums are those of one contiguous buffer, and only the last row of an odd length is alone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSum(float* p, float* values, int* table, int shift, long blockStride, long headOffset, float* o, int d, int length)
    {
        long bs = 1L << shift;
        int i = 0;
        for (; i + 32 <= d; i += 32)
        {
            // Four column blocks x even/odd keys: eight chains.
            var e0 = Vector256<float>.Zero; var e1 = e0; var e2 = e0; var e3 = e0; var f0 = e0; var f1 = e0; var f2 = e0; var f3 = e0;
            float* a = null;
            for (int block = 0, j = 0; j < length; block++)
            {
                int end = (int)Math.Min(length, (block + 1) * bs);
                a = values + table[block] * blockStride + headOffset + i;
                for (; j + 2 <= end; j += 2, a += 2 * d)
                {
                    float* b = a + d;
                    var pa = Vector256.Create(p[j]);
                    var pb = Vector256.Create(p[j + 1]);
                    e0 = Vector256.FusedMultiplyAdd(Vector256.Load(a), pa, e0);
                    e1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + 8), pa, e1);
                    e2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + 16), pa, e2);
                    e3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + 24), pa, e3);
                    f0 = Vector256.FusedMultiplyAdd(Vector256.Load(b), pb, f0);
                    f1 = Vector256.FusedMultiplyAdd(Vector256.Load(b + 8), pb, f1);
                    f2 = Vector256.FusedMultiplyAdd(Vector256.Load(b + 16), pb, f2);
                    f3 = Vector256.FusedMultiplyAdd(Vector256.Load(b + 24), pb, f3);
                }
                if (j < end)
                {
                    // The odd last row (block ends are even, so only at the end of the sequence).
                    var pa = Vector256.Create(p[j]);
                    e0 = Vector256.FusedMultiplyAdd(Vector256.Load(a), pa, e0);
                    e1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + 8), pa, e1);
                    e2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + 16), pa, e2);
                    e3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + 24), pa, e3);
                    j++;
                }
            }
            (e0 + f0).Store(o + i);
            (e1 + f1).Store(o + i + 8);
            (e2 + f2).Store(o + i + 16);
            (e3 + f3).Store(o + i + 24);
        }
        for (; i < d; i += 8)
        {
            var e = Vector256<float>.Zero; var f = e;
            for (int block = 0, j = 0; j < length; block++)
            {
                int end = (int)Math.Min(length, (block + 1) * bs);
                float* a = values + table[block] * blockStride + headOffset + i;
                for (; j + 2 <= end; j += 2, a += 2 * d)
                {
                    e = Vector256.FusedMultiplyAdd(Vector256.Load(a), Vector256.Create(p[j]), e);
                    f = Vector256.FusedMultiplyAdd(Vector256.Load(a + d), Vector256.Create(p[j + 1]), f);
                }
                if (j < end) { e = Vector256.FusedMultiplyAdd(Vector256.Load(a), Vector256.Create(p[j]), e); j++; }
            }
            (e + f).Store(o + i);
        }
    }

    /// <summary>The storage of a contiguous CPU float32 tensor (a view's own elements) as a span.</summary>
    public static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);

    /// <summary>True when the tensor can be read through <see cref="Floats"/>.</summary>
    public static bool IsPlainCpuFloat(Tensor? t) =>
        t is null || (t.device_type == TorchSharp.DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous());
}
