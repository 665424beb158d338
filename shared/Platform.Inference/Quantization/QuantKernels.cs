using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Platform.Inference.Quantization;

/// <summary>
/// The integer kernels of <see cref="QuantizedMatrix.Gemm"/> (AVX2; a scalar loop elsewhere). Per 32-value block
/// the dot product of the weight quants w and the activation quants x is ggml's AVX2 one (ggml-cpu x86 quants.c,
/// mul_sum_i8_pairs_float): vpmaddubsw(|w|, sign(x, w)) sums adjacent pairs into int16 (at most 2 x 127 x 127, no
/// saturation), vpmaddwd with ones into int32, then one FMA with d_w * d_x into a float accumulator. Q4_0 nibbles
/// are widened to int8 (q - 8) first. Several activation rows share each unpacked weight block (4 per pass), so
/// batched decode and prefill read and unpack each weight block once per four inputs instead of once per input.
/// </summary>
internal static unsafe class QuantKernels
{
    /// <summary>Inputs processed against one weight row per tile; their quants (tile x cols bytes) stay in L1/L2.</summary>
    private const int InputTile = 64;

    /// <summary>
    /// ggml's quantize_row_q8_0 (the AVX2 build, which is what llama.cpp runs here): d = max|x| / 127 stored as
    /// fp16, q = round-to-nearest-even(x * 127 / max|x|). xq is [batch, cols], xd [batch, cols / 32] (the fp16 d as float).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeActivations(ReadOnlySpan<float> x, Span<sbyte> xq, Span<float> xd, int batch, int cols)
    {
        int blocks = batch * cols / BlockFormats.BlockSize;
        fixed (float* px = x)
        fixed (sbyte* pq = xq)
        fixed (float* pd = xd)
        {
            for (int b = 0; b < blocks; b++)
            {
                float* v = px + (long)b * 32;
                sbyte* q = pq + (long)b * 32;
                if (Avx2.IsSupported)
                {
                    var v0 = Avx.LoadVector256(v); var v1 = Avx.LoadVector256(v + 8); var v2 = Avx.LoadVector256(v + 16); var v3 = Avx.LoadVector256(v + 24);
                    var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
                    var m4 = Vector128.Max(m.GetLower(), m.GetUpper());
                    m4 = Vector128.Max(m4, Sse.MoveHighToLow(m4, m4));
                    m4 = Sse.MaxScalar(m4, Sse.Shuffle(m4, m4, 1));
                    float max = m4.ToScalar();
                    pd[b] = (float)(Half)(max / 127f);
                    var mul = Vector256.Create(max != 0 ? 127f / max : 0f);
                    var i0 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v0 * mul));
                    var i1 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v1 * mul));
                    var i2 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v2 * mul));
                    var i3 = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(v3 * mul));
                    // Narrow keeps element order (the packs' lane interleave is undone for us).
                    Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).Store(q);
                }
                else
                {
                    float max = 0;
                    for (int j = 0; j < 32; j++) max = MathF.Max(max, MathF.Abs(v[j]));
                    pd[b] = (float)(Half)(max / 127f);
                    float id = max != 0 ? 127f / max : 0f;
                    for (int j = 0; j < 32; j++) q[j] = (sbyte)MathF.Round(v[j] * id, MidpointRounding.ToEven);
                }
            }
        }
    }

    /// <summary>y[i, r] = w[r] . x[i] for weight rows [r0, r1) and all inputs; y is [batch, m.Rows].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(QuantizedMatrix m, sbyte* xq, float* xd, float* y, int r0, int r1, int batch)
    {
        int nb = m.BlocksPerRow, cols = m.Cols, rows = m.Rows;
        bool q4 = m.Type == QuantType.Q4_0;
        float* scales = stackalloc float[nb];
        for (int t0 = 0; t0 < batch; t0 += InputTile)
        {
            int t1 = Math.Min(batch, t0 + InputTile);
            for (int r = r0; r < r1; r++)
            {
                HalfToFloat(m.ScaleRow(r), scales, nb);
                byte* w = m.QuantRow(r);
                int i = t0;
                if (Avx2.IsSupported)
                {
                    for (; i + 4 <= t1; i += 4)
                    {
                        var s = q4 ? Dot4<Q4>(w, scales, xq + (long)i * cols, xd + (long)i * nb, nb, cols)
                                   : Dot4<Q8>(w, scales, xq + (long)i * cols, xd + (long)i * nb, nb, cols);
                        y[(long)i * rows + r] = s.GetElement(0);
                        y[(long)(i + 1) * rows + r] = s.GetElement(1);
                        y[(long)(i + 2) * rows + r] = s.GetElement(2);
                        y[(long)(i + 3) * rows + r] = s.GetElement(3);
                    }
                    for (; i < t1; i++)
                        y[(long)i * rows + r] = q4 ? Dot1<Q4>(w, scales, xq + (long)i * cols, xd + (long)i * nb, nb)
                                                   : Dot1<Q8>(w, scales, xq + (long)i * cols, xd + (long)i * nb, nb);
                }
                else
                    for (; i < t1; i++) y[(long)i * rows + r] = DotScalar(q4, w, scales, xq + (long)i * cols, xd + (long)i * nb, nb);
            }
        }
    }

    /// <summary>How a weight format's block becomes 32 int8 values (a struct type parameter: inlined per format).</summary>
    private interface IUnpack
    {
        static abstract Vector256<sbyte> Load(byte* quants, int block);
    }

    private readonly struct Q8 : IUnpack
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* quants, int block) => Avx.LoadVector256((sbyte*)quants + block * 32);
    }

    private readonly struct Q4 : IUnpack
    {
        /// <summary>ggml's bytes_from_nibbles_32 minus 8: low nibbles are values 0..15, high nibbles 16..31.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* quants, int block)
        {
            var v = Sse2.LoadVector128(quants + block * 16);
            var mask = Vector128.Create((byte)0x0F);
            var lo = Sse2.And(v, mask);
            var hi = Sse2.And(Sse2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), mask);
            return Avx2.Subtract(Vector256.Create(lo, hi).AsSByte(), Vector256.Create((sbyte)8));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> PairSum(Vector256<byte> absW, Vector256<sbyte> w, sbyte* x)
    {
        var signed = Avx2.Sign(Avx.LoadVector256(x), w);
        var pairs = Avx2.MultiplyAddAdjacent(absW, signed);
        return Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(pairs, Vector256<short>.One));
    }

    /// <summary>One weight row against one input: two accumulator chains (one chain waits on the FMA latency).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot1<T>(byte* w, float* ws, sbyte* x, float* xs, int nb) where T : IUnpack
    {
        var a0 = Vector256<float>.Zero; var a1 = a0;
        int b = 0;
        for (; b + 2 <= nb; b += 2)
        {
            var w0 = T.Load(w, b);
            var w1 = T.Load(w, b + 1);
            a0 = Fma.MultiplyAdd(PairSum(Avx2.Abs(w0), w0, x + b * 32), Vector256.Create(ws[b] * xs[b]), a0);
            a1 = Fma.MultiplyAdd(PairSum(Avx2.Abs(w1), w1, x + (b + 1) * 32), Vector256.Create(ws[b + 1] * xs[b + 1]), a1);
        }
        if (b < nb)
        {
            var w0 = T.Load(w, b);
            a0 = Fma.MultiplyAdd(PairSum(Avx2.Abs(w0), w0, x + b * 32), Vector256.Create(ws[b] * xs[b]), a0);
        }
        return Vector256.Sum(a0 + a1);
    }

    /// <summary>One weight row against four inputs (rows of x cols apart): each block unpacked once for all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector128<float> Dot4<T>(byte* w, float* ws, sbyte* x, float* xs, int nb, int cols) where T : IUnpack
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        sbyte* x1 = x + cols, x2 = x1 + cols, x3 = x2 + cols;
        float* s1 = xs + nb, s2 = s1 + nb, s3 = s2 + nb;
        for (int b = 0; b < nb; b++)
        {
            var wv = T.Load(w, b);
            var aw = Avx2.Abs(wv);
            float d = ws[b];
            int o = b * 32;
            a0 = Fma.MultiplyAdd(PairSum(aw, wv, x + o), Vector256.Create(d * xs[b]), a0);
            a1 = Fma.MultiplyAdd(PairSum(aw, wv, x1 + o), Vector256.Create(d * s1[b]), a1);
            a2 = Fma.MultiplyAdd(PairSum(aw, wv, x2 + o), Vector256.Create(d * s2[b]), a2);
            a3 = Fma.MultiplyAdd(PairSum(aw, wv, x3 + o), Vector256.Create(d * s3[b]), a3);
        }
        // Transpose-and-add the four accumulators into one vector of four sums.
        var h01 = Avx.HorizontalAdd(a0, a1);
        var h23 = Avx.HorizontalAdd(a2, a3);
        var h = Avx.HorizontalAdd(h01, h23);
        return h.GetLower() + h.GetUpper();
    }

    private static float DotScalar(bool q4, byte* w, float* ws, sbyte* x, float* xs, int nb)
    {
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            int acc = 0;
            for (int j = 0; j < 32; j++)
            {
                int wq = q4 ? (j < 16 ? (w[b * 16 + j] & 0x0F) : (w[b * 16 + j - 16] >> 4)) - 8 : ((sbyte*)w)[b * 32 + j];
                acc += wq * x[b * 32 + j];
            }
            sum += ws[b] * xs[b] * acc;
        }
        return sum;
    }

    /// <summary>fp16 to float32 for the scales, 8 at a time: the magnitude bits shifted into a float32 and scaled by
    /// 2^112 (rebiasing the exponent; exact for normal and subnormal halves), the sign moved to bit 31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void HalfToFloat(ushort* h, float* f, int n)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            var magic = Vector256.Create(BitConverter.Int32BitsToSingle((127 + 112) << 23)); // 2^112
            for (; i + 8 <= n; i += 8)
            {
                var v = Avx2.ConvertToVector256Int32(h + i);
                var sign = Avx2.ShiftLeftLogical(v & Vector256.Create(0x8000), 16);
                var mag = Avx2.ShiftLeftLogical(v & Vector256.Create(0x7FFF), 13).AsSingle() * magic;
                (mag.AsInt32() | sign).AsSingle().Store(f + i);
            }
        }
        for (; i < n; i++) f[i] = (float)BitConverter.UInt16BitsToHalf(h[i]);
    }
}
