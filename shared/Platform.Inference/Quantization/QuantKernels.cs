using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Platform.Inference.Quantization;

/// <summary>
/// The integer kernels of <see cref="QuantizedMatrix.Gemm"/> (AVX2 + FMA; <see cref="RowsScalar"/> elsewhere). Per
/// 32-value block every weight row and input contribute d_w * d_x * (integer dot product of their quants), as in
/// ggml (ggml-cpu x86 quants.c): vpmaddubsw sums adjacent products into int16, vpmaddwd with ones into int32, then a
/// conversion and an FMA into a float accumulator. Q8_0 goes through |w| x sign(x, w) (mul_sum_i8_pairs_float);
/// Q4_0 keeps its nibbles unsigned and takes the offset 8 off once per output. Layouts: a register tile of 4 weight
/// rows x 3 inputs for small batches (each loaded block feeds 3 or 4 products), and from 4 (Q4_0) or 8 (Q8_0) inputs
/// on eight rows interleaved in the lanes of one register (QuantKernels.Interleaved.cs).
/// </summary>
internal static unsafe partial class QuantKernels
{
    /// <summary>
    /// ggml's quantize_row_q8_0 (the AVX2 build, which is what llama.cpp runs here): d = max|x| / 127 stored as
    /// fp16, q = round-to-nearest-even(x * 127 / max|x|). xq is [batch, cols], xd [batch, cols / 32] (the fp16 d as float),
    /// xs [batch, cols / 32] the sum of the block's q (Q4_0's offset 8 takes 8 x that from the block's integer dot
    /// product; ggml's block_q8_1 keeps the same sum, scaled), xl [batch, cols / 32, 8] 8 x the sums of its quants
    /// 4l..4l+3 (the offset per int32 lane of vpmaddwd, so a row tile's lanes hold what ggml's AVX2 dot holds).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeActivations(ReadOnlySpan<float> x, Span<sbyte> xq, Span<float> xd, Span<int> xs, Span<int> xl, int batch, int cols)
    {
        int blocks = batch * cols / BlockFormats.BlockSize;
        if (x.Length < (long)batch * cols || xq.Length < (long)batch * cols || xd.Length < blocks || xs.Length < blocks || xl.Length < blocks * 8L)
            throw new ArgumentException($"activation buffers too small for [{batch}, {cols}]: x {x.Length}, xq {xq.Length}, xd {xd.Length}, xs {xs.Length}, xl {xl.Length}");
        fixed (float* px = x)
        fixed (sbyte* pq = xq)
        fixed (float* pd = xd)
        fixed (int* ps = xs, pl = xl)
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
                    ps[b] = Vector256.Sum((i0 + i1) + (i2 + i3));
                    // Sums of quants 4l..4l+3: two horizontal adds give lanes (0, 2, 4, 6 | 1, 3, 5, 7).
                    var quads = Avx2.HorizontalAdd(Avx2.HorizontalAdd(i0, i1), Avx2.HorizontalAdd(i2, i3));
                    Avx2.ShiftLeftLogical(Avx2.PermuteVar8x32(quads, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)), 3).Store(pl + (long)b * 8);
                }
                else
                {
                    float max = 0;
                    for (int j = 0; j < 32; j++) max = MathF.Max(max, MathF.Abs(v[j]));
                    pd[b] = (float)(Half)(max / 127f);
                    float id = max != 0 ? 127f / max : 0f;
                    int sum = 0;
                    for (int j = 0; j < 32; j++) sum += q[j] = (sbyte)MathF.Round(v[j] * id, MidpointRounding.ToEven);
                    ps[b] = sum;
                    for (int l = 0; l < 8; l++) pl[(long)b * 8 + l] = 8 * (q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3]);
                }
            }
        }
    }

    /// <summary>
    /// y[i, r] = w[r] . x[i] for weight rows [r0, r1) and all inputs; y is [batch, m.Rows]. Inputs are taken in
    /// cache blocks of <see cref="InputBlock"/>; within one, each group of <see cref="RowTile"/> weight rows (its
    /// scales converted once, Q4_0 nibbles unpacked once into an L1 buffer) meets the block's inputs
    /// <see cref="InputTileWidth"/> at a time in a register tile (llamafile's tinyBLAS layout, sgemm.cpp).
    /// <paramref name="xs"/> and <paramref name="xl"/> are Q4_0's offsets (see <see cref="QuantizeActivations"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(QuantizedMatrix m, sbyte* xq, float* xd, int* xs, int* xl, float* y, int r0, int r1, int batch)
    {
        int nb = m.BlocksPerRow, cols = m.Cols;
        bool q4 = m.Type == QuantType.Q4_0;
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            RowsScalar(m, xq, xd, y, r0, r1, batch);
            return;
        }
        if (batch >= InterleavedMinBatch(m.Type) && r1 - r0 >= InterleavedRows)
        {
            int split = r0 + (r1 - r0) / InterleavedRows * InterleavedRows;
            RowsInterleaved(m, xq, xd, xs, y, r0, split, batch);
            r0 = split;
            if (r0 == r1) return;
        }
        float* ws = stackalloc float[RowTile * nb];
        float* table = stackalloc float[RowTile * InputTileWidth * nb];
        byte* unpacked = stackalloc byte[q4 ? RowTile * cols : 1];
        var t = new Tile(m.Rows, cols, nb, ws, table, xq, xd, xl, y);
        for (int t0 = 0; t0 < batch; t0 += InputBlock)
        {
            int t1 = Math.Min(batch, t0 + InputBlock);
            // One input reads each weight block once: unpacking Q4_0 into a buffer first would only add a pass.
            bool buffer = q4 && t1 - t0 > 1;
            for (int r = r0; r < r1;)
            {
                int rr = r1 - r >= RowTile ? RowTile : 1;
                for (int i = 0; i < rr; i++) HalfToFloat(m.ScaleRow(r + i), ws + i * nb, nb);
                if (buffer)
                    for (int i = 0; i < rr; i++) Q4Buffered.Unpack(m.QuantRow(r + i), unpacked + i * cols, nb);
                byte* w = buffer ? unpacked : m.QuantRow(r);
                int wStride = buffer ? cols : m.QuantBytesPerRow;
                for (int j = t0; j < t1;)
                {
                    int cc = Math.Min(InputTileWidth, t1 - j);
                    if (rr == RowTile)
                    {
                        if (!q4) t.Run<Q8, Four>(w, wStride, r, j, cc);
                        else if (buffer) t.Run<Q4Buffered, Four>(w, wStride, r, j, cc);
                        else t.Run<Q4Packed, Four>(w, wStride, r, j, cc);
                    }
                    else
                    {
                        if (!q4) t.Run<Q8, One>(w, wStride, r, j, cc);
                        else if (buffer) t.Run<Q4Buffered, One>(w, wStride, r, j, cc);
                        else t.Run<Q4Packed, One>(w, wStride, r, j, cc);
                    }
                    j += cc;
                }
                r += rr;
            }
        }
    }

    /// <summary>Weight rows per register tile.</summary>
    internal const int RowTile = 4;
    /// <summary>Inputs per register tile: 4 x 3 accumulators plus the operands fit AVX2's 16 registers (tinyBLAS's 4x3).</summary>
    internal const int InputTileWidth = 3;
    /// <summary>Inputs per cache block: their quants (at most 64 x cols bytes) stay in L1/L2 while every row group passes.</summary>
    private const int InputBlock = 64;

    /// <summary>A compile-time tile height (a struct type parameter: the JIT folds the branches on it).</summary>
    private interface ICount
    {
        static abstract int N { get; }
    }

    private readonly struct One : ICount
    {
        public static int N => 1;
    }

    private readonly struct Two : ICount
    {
        public static int N => 2;
    }

    private readonly struct Three : ICount
    {
        public static int N => 3;
    }

    private readonly struct Four : ICount
    {
        public static int N => 4;
    }

    /// <summary>
    /// How a weight format's block meets 32 activation quants (a struct type parameter: inlined per format).
    /// Pairs gives the int16 pair sums of vpmaddubsw: it needs one unsigned operand, so Q8_0 goes through
    /// ggml's |w| x sign(x, w) (mul_sum_i8_pairs, quants.c) while Q4_0 keeps its nibbles unsigned (0..15), one
    /// operation fewer per product: sum (q - 8) x = sum q x - 8 sum x, and 8 sum x (one number per input block)
    /// is taken off each block's integer dot product before its conversion (ggml's per-block value, exactly).
    /// </summary>
    private interface IFormat
    {
        static abstract bool Offset8 { get; }
        static abstract Vector256<sbyte> Load(byte* row, int block);
        static abstract Vector256<short> Pairs(Vector256<sbyte> w, sbyte* x);
    }

    private readonly struct Q8 : IFormat
    {
        public static bool Offset8 => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* row, int block) => Avx.LoadVector256((sbyte*)row + block * 32);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Pairs(Vector256<sbyte> w, sbyte* x) =>
            Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(Avx.LoadVector256(x), w));
    }

    /// <summary>Q4_0 as stored: ggml's bytes_from_nibbles_32, low nibbles are values 0..15, high nibbles 16..31.</summary>
    private readonly struct Q4Packed : IFormat
    {
        public static bool Offset8 => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* row, int block)
        {
            var v = Sse2.LoadVector128(row + block * 16);
            var mask = Vector128.Create((byte)0x0F);
            var lo = Sse2.And(v, mask);
            var hi = Sse2.And(Sse2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), mask);
            return Vector256.Create(lo, hi).AsSByte();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Pairs(Vector256<sbyte> w, sbyte* x) => Avx2.MultiplyAddAdjacent(w.AsByte(), Avx.LoadVector256(x));
    }

    /// <summary>Q4_0 nibbles unpacked once per row group into 32 bytes per block (values 0..15).</summary>
    private readonly struct Q4Buffered : IFormat
    {
        public static bool Offset8 => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Load(byte* row, int block) => Avx.LoadVector256((sbyte*)row + block * 32);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Pairs(Vector256<sbyte> w, sbyte* x) => Avx2.MultiplyAddAdjacent(w.AsByte(), Avx.LoadVector256(x));

        public static void Unpack(byte* packed, byte* output, int nb)
        {
            for (int b = 0; b < nb; b++) Q4Packed.Load(packed, b).AsByte().Store(output + b * 32);
        }
    }

    /// <summary>The operands of one <see cref="Rows"/> call, shared by its register tiles.</summary>
    private readonly struct Tile(int rows, int cols, int nb, float* ws, float* table, sbyte* xq, float* xd, int* xl, float* y)
    {
        /// <summary>
        /// Weight rows r .. r + TR.N - 1 (w: their blocks, wStride bytes apart) against inputs j .. j + cc - 1
        /// (cc = 1..3): TR.N x cc float accumulators, each weight block loaded once for the cc inputs and each
        /// input block once for the TR.N rows. The d_w * d_x products of the tile are formed first, eight blocks
        /// per multiply, so the block loop only broadcasts them from L1.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run<TF, TR>(byte* w, int wStride, int r, int j, int cc) where TF : struct, IFormat where TR : struct, ICount
        {
            int tr = TR.N;
            // table[(i * 3 + c) * nb + b] = d_w[r + i, b] * d_x[j + c, b].
            for (int i = 0; i < tr; i++)
                for (int c = 0; c < cc; c++)
                {
                    float* wi = ws + i * nb, xi = xd + (long)(j + c) * nb, ti = table + (i * InputTileWidth + c) * nb;
                    int b = 0;
                    for (; b + 8 <= nb; b += 8) Avx.Store(ti + b, Avx.LoadVector256(wi + b) * Avx.LoadVector256(xi + b));
                    for (; b < nb; b++) ti[b] = wi[b] * xi[b];
                }
            if (cc == 3) Kernel<TF, TR, Three>(w, wStride, r, j);
            else if (cc == 2) Kernel<TF, TR, Two>(w, wStride, r, j);
            else Kernel<TF, TR, One>(w, wStride, r, j);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Kernel<TF, TR, TC>(byte* w, int wStride, int r, int j) where TF : struct, IFormat where TR : struct, ICount where TC : struct, ICount
        {
            int cc = TC.N;
            sbyte* x0 = xq + (long)j * cols, x1 = x0 + cols, x2 = x1 + cols;
            byte* w1 = w + wStride, w2 = w1 + wStride, w3 = w2 + wStride;
            float* t0 = table, t1 = t0 + InputTileWidth * nb, t2 = t1 + InputTileWidth * nb, t3 = t2 + InputTileWidth * nb;
            var a00 = Vector256<float>.Zero; var a01 = a00; var a02 = a00;
            var a10 = a00; var a11 = a00; var a12 = a00;
            var a20 = a00; var a21 = a00; var a22 = a00;
            var a30 = a00; var a31 = a00; var a32 = a00;
            var ones = Vector256<short>.One;
            int* s0 = xl + (long)j * nb * 8, s1 = s0 + nb * 8, s2 = s1 + nb * 8;
            for (int b = 0; b < nb; b++)
            {
                int o = b * 32;
                // Q4_0: each lane of a row's integer dot product (four products) less 8 x those four input quants.
                var z0 = TF.Offset8 ? Avx.LoadVector256(s0 + b * 8) : default;
                var z1 = TF.Offset8 && cc > 1 ? Avx.LoadVector256(s1 + b * 8) : default;
                var z2 = TF.Offset8 && cc > 2 ? Avx.LoadVector256(s2 + b * 8) : default;
                var v = TF.Load(w, b);
                a00 = Fma.MultiplyAdd(Dot<TF>(v, x0 + o, ones, z0), Vector256.Create(t0[b]), a00);
                if (cc > 1) a01 = Fma.MultiplyAdd(Dot<TF>(v, x1 + o, ones, z1), Vector256.Create(t0[nb + b]), a01);
                if (cc > 2) a02 = Fma.MultiplyAdd(Dot<TF>(v, x2 + o, ones, z2), Vector256.Create(t0[2 * nb + b]), a02);
                if (TR.N > 1)
                {
                    v = TF.Load(w1, b);
                    a10 = Fma.MultiplyAdd(Dot<TF>(v, x0 + o, ones, z0), Vector256.Create(t1[b]), a10);
                    if (cc > 1) a11 = Fma.MultiplyAdd(Dot<TF>(v, x1 + o, ones, z1), Vector256.Create(t1[nb + b]), a11);
                    if (cc > 2) a12 = Fma.MultiplyAdd(Dot<TF>(v, x2 + o, ones, z2), Vector256.Create(t1[2 * nb + b]), a12);
                    v = TF.Load(w2, b);
                    a20 = Fma.MultiplyAdd(Dot<TF>(v, x0 + o, ones, z0), Vector256.Create(t2[b]), a20);
                    if (cc > 1) a21 = Fma.MultiplyAdd(Dot<TF>(v, x1 + o, ones, z1), Vector256.Create(t2[nb + b]), a21);
                    if (cc > 2) a22 = Fma.MultiplyAdd(Dot<TF>(v, x2 + o, ones, z2), Vector256.Create(t2[2 * nb + b]), a22);
                    v = TF.Load(w3, b);
                    a30 = Fma.MultiplyAdd(Dot<TF>(v, x0 + o, ones, z0), Vector256.Create(t3[b]), a30);
                    if (cc > 1) a31 = Fma.MultiplyAdd(Dot<TF>(v, x1 + o, ones, z1), Vector256.Create(t3[nb + b]), a31);
                    if (cc > 2) a32 = Fma.MultiplyAdd(Dot<TF>(v, x2 + o, ones, z2), Vector256.Create(t3[2 * nb + b]), a32);
                }
            }
            float* y0 = y + (long)j * rows + r;
            Store<TR>(y0, a00, a10, a20, a30);
            if (cc > 1) Store<TR>(y0 + rows, a01, a11, a21, a31);
            if (cc > 2) Store<TR>(y0 + 2 * rows, a02, a12, a22, a32);
        }

        /// <summary>One weight block's integer dot product with 32 input quants (less the Q4_0 offset z), as float.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Dot<TF>(Vector256<sbyte> w, sbyte* x, Vector256<short> ones, Vector256<int> z) where TF : struct, IFormat
        {
            var sums = Avx2.MultiplyAddAdjacent(TF.Pairs(w, x), ones);
            return Avx.ConvertToVector256Single(TF.Offset8 ? Avx2.Subtract(sums, z) : sums);
        }

        /// <summary>The sums of one input's accumulators into y (four rows: transposed by horizontal adds into one vector).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store<TR>(float* y, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
            where TR : struct, ICount
        {
            if (TR.N == 1)
            {
                y[0] = Vector256.Sum(a0);
                return;
            }
            var h = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
            (h.GetLower() + h.GetUpper()).Store(y);
        }
    }

    /// <summary>The reference loop (hosts without AVX2 + FMA): one weight row and one input at a time, integer dot
    /// products per block, as ggml's scalar ggml_vec_dot_q4_0_q8_0 / q8_0_q8_0.</summary>
    internal static void RowsScalar(QuantizedMatrix m, sbyte* xq, float* xd, float* y, int r0, int r1, int batch)
    {
        int nb = m.BlocksPerRow, cols = m.Cols;
        bool q4 = m.Type == QuantType.Q4_0;
        float* scales = stackalloc float[nb];
        for (int r = r0; r < r1; r++)
        {
            HalfToFloat(m.ScaleRow(r), scales, nb);
            for (int i = 0; i < batch; i++)
                y[(long)i * m.Rows + r] = DotScalar(q4, m.QuantRow(r), scales, xq + (long)i * cols, xd + (long)i * nb, nb);
        }
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
