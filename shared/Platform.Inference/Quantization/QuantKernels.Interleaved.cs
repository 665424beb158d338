using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Platform.Inference.Quantization;

/// <summary>
/// Weights against several inputs with eight weight rows in the lanes of one register (the layout of llama.cpp's
/// repacked q4_0_8x8 GEMM, ggml-cpu repack.cpp): per 32-value block the rows' quants are transposed so that
/// register g holds quants 4g..4g+3 of all eight rows, and vpmaddubsw with the input's quants 4g..4g+3 broadcast
/// gives each row's partial sums in its own lanes; one conversion and one FMA then finish eight rows' block.
/// Q4_0 (nibbles 0..15, offset 8 subtracted once per output, see <see cref="IFormat"/>): the eight int16 partials
/// of a block add without overflow (8 x 2 x 15 x 127 = 30480), so one vpmaddwd per block: about 20 vector
/// operations per 256 multiply-adds where the row tile needs 36. Q8_0 (|w| x sign(x, w), |w| stored beside w by the
/// transpose): a partial reaches 2 x 127 x 127, so each is widened to int32 before adding.
/// The transpose is paid once per row group and block of <see cref="InterleavedInputBlock"/> inputs.
/// </summary>
internal static unsafe partial class QuantKernels
{
    /// <summary>Weight rows per interleaved group (the eight float lanes of a 256-bit register).</summary>
    internal const int InterleavedRows = 8;
    /// <summary>Inputs per interleaved tile: each transposed weight block loaded once for four inputs.</summary>
    private const int InterleavedInputs = 4;
    /// <summary>Inputs per cache block of the interleaved path: the transpose of a row group is paid once per block.</summary>
    private const int InterleavedInputBlock = 128;
    /// <summary>Bytes of one transposed block: the eight registers, and for Q8_0 their absolute values after them.</summary>
    private const int BlockStride = 512;
    /// <summary>
    /// Fewest inputs for the interleaved path: below it the transpose of each row group costs more than it saves.
    /// Measured on one core (CPU time, SmolLM-135M shapes): Q4_0 at 4 inputs 104 GOPS against the row tile's 88, at
    /// 8 152 against 99; Q8_0 at 4 inputs 89 against 102, at 8 114 against 106, at 512 153 against 114.
    /// </summary>
    internal static int InterleavedMinBatch(QuantType type) => type == QuantType.Q4_0 ? 4 : 8;

    /// <summary>Weight rows [r0, r1) (r1 - r0 a multiple of 8) against all inputs, eight rows per group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowsInterleaved(QuantizedMatrix m, sbyte* xq, float* xd, int* xs, float* y, int r0, int r1, int batch)
    {
        if (m.Type == QuantType.Q4_0) RowsInterleaved<Q4Packed>(m, xq, xd, xs, y, r0, r1, batch);
        else RowsInterleaved<Q8>(m, xq, xd, xs, y, r0, r1, batch);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsInterleaved<TF>(QuantizedMatrix m, sbyte* xq, float* xd, int* xs, float* y, int r0, int r1, int batch)
        where TF : struct, IFormat
    {
        int nb = m.BlocksPerRow;
        byte* packed = stackalloc byte[nb * BlockStride + 32];
        packed = (byte*)(((nint)packed + 31) & ~(nint)31);
        float* scales = stackalloc float[nb * InterleavedRows];
        var k = new Interleaved(m.Rows, m.Cols, nb, packed, scales, xq, xd, xs, y);
        for (int t0 = 0; t0 < batch; t0 += InterleavedInputBlock)
        {
            int t1 = Math.Min(batch, t0 + InterleavedInputBlock);
            for (int r = r0; r < r1; r += InterleavedRows)
            {
                Transpose<TF>(m, r, nb, packed, scales);
                int j = t0;
                for (; j + InterleavedInputs <= t1; j += InterleavedInputs) k.Run<TF, Four>(r, j);
                if (t1 - j == 3) k.Run<TF, Three>(r, j);
                else if (t1 - j == 2) k.Run<TF, Two>(r, j);
                else if (t1 - j == 1) k.Run<TF, One>(r, j);
            }
        }
    }

    /// <summary>
    /// Rows r .. r + 7 into the interleaved layout: for block b, 8 vectors of 32 bytes, vector g = quants 4g..4g+3
    /// of each row (an 8 x 8 transpose of 4-byte groups); scales[b * 8 + i] = d of row r + i, block b.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose<TF>(QuantizedMatrix m, int r, int nb, byte* packed, float* scales) where TF : struct, IFormat
    {
        float* rowScales = stackalloc float[nb];
        for (int i = 0; i < InterleavedRows; i++)
        {
            HalfToFloat(m.ScaleRow(r + i), rowScales, nb);
            for (int b = 0; b < nb; b++) scales[b * InterleavedRows + i] = rowScales[b];
        }
        byte* q0 = m.QuantRow(r);
        int stride = m.QuantBytesPerRow;
        for (int b = 0; b < nb; b++)
        {
            var v0 = TF.Load(q0, b).AsInt32();
            var v1 = TF.Load(q0 + stride, b).AsInt32();
            var v2 = TF.Load(q0 + 2 * stride, b).AsInt32();
            var v3 = TF.Load(q0 + 3 * stride, b).AsInt32();
            var v4 = TF.Load(q0 + 4 * stride, b).AsInt32();
            var v5 = TF.Load(q0 + 5 * stride, b).AsInt32();
            var v6 = TF.Load(q0 + 6 * stride, b).AsInt32();
            var v7 = TF.Load(q0 + 7 * stride, b).AsInt32();
            // 8 x 8 transpose of int32: unpack pairs, then quads, then exchange the 128-bit halves.
            var t0 = Avx2.UnpackLow(v0, v1); var t1 = Avx2.UnpackHigh(v0, v1);
            var t2 = Avx2.UnpackLow(v2, v3); var t3 = Avx2.UnpackHigh(v2, v3);
            var t4 = Avx2.UnpackLow(v4, v5); var t5 = Avx2.UnpackHigh(v4, v5);
            var t6 = Avx2.UnpackLow(v6, v7); var t7 = Avx2.UnpackHigh(v6, v7);
            var s0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32(); var s1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32();
            var s2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32(); var s3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32();
            var s4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64()).AsInt32(); var s5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64()).AsInt32();
            var s6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64()).AsInt32(); var s7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64()).AsInt32();
            int* o = (int*)(packed + b * BlockStride);
            Avx2.Permute2x128(s0, s4, 0x20).Store(o);
            Avx2.Permute2x128(s1, s5, 0x20).Store(o + 8);
            Avx2.Permute2x128(s2, s6, 0x20).Store(o + 16);
            Avx2.Permute2x128(s3, s7, 0x20).Store(o + 24);
            Avx2.Permute2x128(s0, s4, 0x31).Store(o + 32);
            Avx2.Permute2x128(s1, s5, 0x31).Store(o + 40);
            Avx2.Permute2x128(s2, s6, 0x31).Store(o + 48);
            Avx2.Permute2x128(s3, s7, 0x31).Store(o + 56);
            if (!TF.Offset8)
                for (int g = 0; g < 8; g++) Avx2.Abs(Avx.LoadVector256((sbyte*)(o + g * 8))).Store((byte*)(o + 64 + g * 8));
        }
    }

    /// <summary>The operands of one interleaved pass: a transposed row group and the quantized inputs.</summary>
    private readonly struct Interleaved(int rows, int cols, int nb, byte* packed, float* scales, sbyte* xq, float* xd, int* xs, float* y)
    {
        /// <summary>The row group against inputs j .. j + TC.N - 1: one accumulator of eight rows per input.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run<TF, TC>(int r, int j) where TF : struct, IFormat where TC : struct, ICount
        {
            int cc = TC.N;
            sbyte* x0 = xq + (long)j * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
            float* d0 = xd + (long)j * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
            int* s0 = xs + (long)j * nb, s1 = s0 + nb, s2 = s1 + nb, s3 = s2 + nb;
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var ones = Vector256<short>.One;
            for (int b = 0; b < nb; b++)
            {
                byte* p = packed + b * BlockStride;
                var dw = Avx.LoadVector256(scales + b * InterleavedRows);
                int o = b * 32;
                if (TF.Offset8)
                {
                    var g0 = Avx.LoadAlignedVector256(p); var g1 = Avx.LoadAlignedVector256(p + 32);
                    var g2 = Avx.LoadAlignedVector256(p + 64); var g3 = Avx.LoadAlignedVector256(p + 96);
                    var g4 = Avx.LoadAlignedVector256(p + 128); var g5 = Avx.LoadAlignedVector256(p + 160);
                    var g6 = Avx.LoadAlignedVector256(p + 192); var g7 = Avx.LoadAlignedVector256(p + 224);
                    a0 = Fma.MultiplyAdd(Block(g0, g1, g2, g3, g4, g5, g6, g7, x0 + o, s0[b], ones), dw * Vector256.Create(d0[b]), a0);
                    if (cc > 1) a1 = Fma.MultiplyAdd(Block(g0, g1, g2, g3, g4, g5, g6, g7, x1 + o, s1[b], ones), dw * Vector256.Create(d1[b]), a1);
                    if (cc > 2) a2 = Fma.MultiplyAdd(Block(g0, g1, g2, g3, g4, g5, g6, g7, x2 + o, s2[b], ones), dw * Vector256.Create(d2[b]), a2);
                    if (cc > 3) a3 = Fma.MultiplyAdd(Block(g0, g1, g2, g3, g4, g5, g6, g7, x3 + o, s3[b], ones), dw * Vector256.Create(d3[b]), a3);
                }
                else
                {
                    a0 = Fma.MultiplyAdd(SignedBlock(p, x0 + o, ones), dw * Vector256.Create(d0[b]), a0);
                    if (cc > 1) a1 = Fma.MultiplyAdd(SignedBlock(p, x1 + o, ones), dw * Vector256.Create(d1[b]), a1);
                    if (cc > 2) a2 = Fma.MultiplyAdd(SignedBlock(p, x2 + o, ones), dw * Vector256.Create(d2[b]), a2);
                    if (cc > 3) a3 = Fma.MultiplyAdd(SignedBlock(p, x3 + o, ones), dw * Vector256.Create(d3[b]), a3);
                }
            }
            float* y0 = y + (long)j * rows + r;
            a0.Store(y0);
            if (cc > 1) a1.Store(y0 + rows);
            if (cc > 2) a2.Store(y0 + 2 * rows);
            if (cc > 3) a3.Store(y0 + 3 * rows);
        }

        /// <summary>
        /// Q8_0's eight rows against one input block: |w| x sign(x, w) per register (as in the row tile); a
        /// vpmaddubsw lane reaches 2 x 127 x 127, so the partials are widened to int32 one by one before adding.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> SignedBlock(byte* p, sbyte* x, Vector256<short> ones)
        {
            int* xi = (int*)x;
            sbyte* w = (sbyte*)p;
            byte* a = p + 256;
            var s = Signed(a, w, xi[0], ones);
            s = Avx2.Add(s, Signed(a + 32, w + 32, xi[1], ones));
            s = Avx2.Add(s, Signed(a + 64, w + 64, xi[2], ones));
            s = Avx2.Add(s, Signed(a + 96, w + 96, xi[3], ones));
            s = Avx2.Add(s, Signed(a + 128, w + 128, xi[4], ones));
            s = Avx2.Add(s, Signed(a + 160, w + 160, xi[5], ones));
            s = Avx2.Add(s, Signed(a + 192, w + 192, xi[6], ones));
            s = Avx2.Add(s, Signed(a + 224, w + 224, xi[7], ones));
            return Avx.ConvertToVector256Single(s);
        }

        /// <summary>|w| x sign(x, w) for one register of eight rows' quants (x: four quants, broadcast), as int32.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Signed(byte* abs, sbyte* w, int x, Vector256<short> ones) =>
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadAlignedVector256(abs), Avx2.Sign(Vector256.Create(x).AsSByte(), Avx.LoadAlignedVector256(w))), ones);

        /// <summary>Eight rows' integer dot products with one input block (32 quants at x, summing to xsum), less
        /// the offset 8 x xsum, as float.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Block(Vector256<byte> g0, Vector256<byte> g1, Vector256<byte> g2, Vector256<byte> g3,
            Vector256<byte> g4, Vector256<byte> g5, Vector256<byte> g6, Vector256<byte> g7, sbyte* x, int xsum, Vector256<short> ones)
        {
            int* xi = (int*)x;
            var s = Avx2.MultiplyAddAdjacent(g0, Vector256.Create(xi[0]).AsSByte());
            s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(g1, Vector256.Create(xi[1]).AsSByte()));
            s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(g2, Vector256.Create(xi[2]).AsSByte()));
            s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(g3, Vector256.Create(xi[3]).AsSByte()));
            s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(g4, Vector256.Create(xi[4]).AsSByte()));
            s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(g5, Vector256.Create(xi[5]).AsSByte()));
            s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(g6, Vector256.Create(xi[6]).AsSByte()));
            s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(g7, Vector256.Create(xi[7]).AsSByte()));
            return Avx.ConvertToVector256Single(Avx2.Subtract(Avx2.MultiplyAddAdjacent(s, ones), Vector256.Create(xsum << 3)));
        }

    }
}
