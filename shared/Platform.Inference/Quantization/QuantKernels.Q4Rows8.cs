using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Platform.Inference.Quantization;

/// <summary>
/// Q4_0 against several inputs with eight weight rows in the lanes of one register (the layout of llama.cpp's
/// repacked q4_0_8x8 GEMM, ggml-cpu repack.cpp): per 32-value block the rows' nibbles (0..15) are transposed so that
/// register g holds quants 4g..4g+3 of all eight rows, and vpmaddubsw with the input's quants 4g..4g+3 broadcast
/// gives each row's partial sums in its own lanes. The eight int16 partials of a block add without overflow
/// (8 x 2 x 2 x 15 x 127 = 30480), so one vpmaddwd, one conversion and one FMA finish eight rows' block: about
/// 20 vector operations per 256 multiply-adds where the row-by-row tile needs 32 (vpmaddubsw, vpmaddwd, conversion
/// and FMA per row and block). The offset 8 is subtracted once per output (see <see cref="IFormat"/>).
/// </summary>
internal static unsafe partial class QuantKernels
{
    /// <summary>Weight rows per interleaved group (the eight float lanes of a 256-bit register).</summary>
    internal const int InterleavedRows = 8;
    /// <summary>Inputs per interleaved tile: each transposed weight block loaded once for four inputs.</summary>
    private const int InterleavedInputs = 4;
    /// <summary>Inputs per cache block of the interleaved path: the transpose of a row group is paid once per block.</summary>
    private const int InterleavedInputBlock = 128;
    /// <summary>Fewest inputs for the interleaved path: below it the transpose costs more than it saves.</summary>
    internal const int InterleavedMinBatch = 4;

    /// <summary>Q4_0 weight rows [r0, r1) (r1 - r0 a multiple of 8) against all inputs, eight rows per group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowsQ4Interleaved(QuantizedMatrix m, sbyte* xq, float* xd, float* xs, float* y, int r0, int r1, int batch)
    {
        int nb = m.BlocksPerRow;
        byte* packed = stackalloc byte[nb * 256 + 32];
        packed = (byte*)(((nint)packed + 31) & ~(nint)31);
        float* scales = stackalloc float[nb * InterleavedRows];
        var k = new Interleaved(m.Rows, m.Cols, nb, packed, scales, xq, xd, xs, y);
        for (int t0 = 0; t0 < batch; t0 += InterleavedInputBlock)
        {
            int t1 = Math.Min(batch, t0 + InterleavedInputBlock);
            for (int r = r0; r < r1; r += InterleavedRows)
            {
                Transpose(m, r, nb, packed, scales);
                int j = t0;
                for (; j + InterleavedInputs <= t1; j += InterleavedInputs) k.Run<Four>(r, j);
                if (t1 - j == 3) k.Run<Three>(r, j);
                else if (t1 - j == 2) k.Run<Two>(r, j);
                else if (t1 - j == 1) k.Run<One>(r, j);
            }
        }
    }

    /// <summary>
    /// Rows r .. r + 7 into the interleaved layout: for block b, 8 vectors of 32 bytes, vector g = quants 4g..4g+3
    /// of each row (an 8 x 8 transpose of 4-byte groups); scales[b * 8 + i] = d of row r + i, block b.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(QuantizedMatrix m, int r, int nb, byte* packed, float* scales)
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
            var v0 = Q4Packed.Load(q0, b).AsInt32();
            var v1 = Q4Packed.Load(q0 + stride, b).AsInt32();
            var v2 = Q4Packed.Load(q0 + 2 * stride, b).AsInt32();
            var v3 = Q4Packed.Load(q0 + 3 * stride, b).AsInt32();
            var v4 = Q4Packed.Load(q0 + 4 * stride, b).AsInt32();
            var v5 = Q4Packed.Load(q0 + 5 * stride, b).AsInt32();
            var v6 = Q4Packed.Load(q0 + 6 * stride, b).AsInt32();
            var v7 = Q4Packed.Load(q0 + 7 * stride, b).AsInt32();
            // 8 x 8 transpose of int32: unpack pairs, then quads, then exchange the 128-bit halves.
            var t0 = Avx2.UnpackLow(v0, v1); var t1 = Avx2.UnpackHigh(v0, v1);
            var t2 = Avx2.UnpackLow(v2, v3); var t3 = Avx2.UnpackHigh(v2, v3);
            var t4 = Avx2.UnpackLow(v4, v5); var t5 = Avx2.UnpackHigh(v4, v5);
            var t6 = Avx2.UnpackLow(v6, v7); var t7 = Avx2.UnpackHigh(v6, v7);
            var s0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32(); var s1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32();
            var s2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32(); var s3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32();
            var s4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64()).AsInt32(); var s5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64()).AsInt32();
            var s6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64()).AsInt32(); var s7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64()).AsInt32();
            int* o = (int*)(packed + b * 256);
            Avx2.Permute2x128(s0, s4, 0x20).Store(o);
            Avx2.Permute2x128(s1, s5, 0x20).Store(o + 8);
            Avx2.Permute2x128(s2, s6, 0x20).Store(o + 16);
            Avx2.Permute2x128(s3, s7, 0x20).Store(o + 24);
            Avx2.Permute2x128(s0, s4, 0x31).Store(o + 32);
            Avx2.Permute2x128(s1, s5, 0x31).Store(o + 40);
            Avx2.Permute2x128(s2, s6, 0x31).Store(o + 48);
            Avx2.Permute2x128(s3, s7, 0x31).Store(o + 56);
        }
    }

    /// <summary>The operands of one interleaved pass: a transposed row group and the quantized inputs.</summary>
    private readonly struct Interleaved(int rows, int cols, int nb, byte* packed, float* scales, sbyte* xq, float* xd, float* xs, float* y)
    {
        /// <summary>The row group against inputs j .. j + TC.N - 1: one accumulator of eight rows per input.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run<TC>(int r, int j) where TC : struct, ICount
        {
            int cc = TC.N;
            sbyte* x0 = xq + (long)j * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
            float* d0 = xd + (long)j * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var ones = Vector256<short>.One;
            for (int b = 0; b < nb; b++)
            {
                byte* p = packed + b * 256;
                var g0 = Avx.LoadAlignedVector256(p); var g1 = Avx.LoadAlignedVector256(p + 32);
                var g2 = Avx.LoadAlignedVector256(p + 64); var g3 = Avx.LoadAlignedVector256(p + 96);
                var g4 = Avx.LoadAlignedVector256(p + 128); var g5 = Avx.LoadAlignedVector256(p + 160);
                var g6 = Avx.LoadAlignedVector256(p + 192); var g7 = Avx.LoadAlignedVector256(p + 224);
                var dw = Avx.LoadVector256(scales + b * InterleavedRows);
                int o = b * 32;
                a0 = Fma.MultiplyAdd(Block(g0, g1, g2, g3, g4, g5, g6, g7, x0 + o, ones), dw * Vector256.Create(d0[b]), a0);
                if (cc > 1) a1 = Fma.MultiplyAdd(Block(g0, g1, g2, g3, g4, g5, g6, g7, x1 + o, ones), dw * Vector256.Create(d1[b]), a1);
                if (cc > 2) a2 = Fma.MultiplyAdd(Block(g0, g1, g2, g3, g4, g5, g6, g7, x2 + o, ones), dw * Vector256.Create(d2[b]), a2);
                if (cc > 3) a3 = Fma.MultiplyAdd(Block(g0, g1, g2, g3, g4, g5, g6, g7, x3 + o, ones), dw * Vector256.Create(d3[b]), a3);
            }
            float* y0 = y + (long)j * rows + r;
            Finish(a0, j, y0);
            if (cc > 1) Finish(a1, j + 1, y0 + rows);
            if (cc > 2) Finish(a2, j + 2, y0 + 2 * rows);
            if (cc > 3) Finish(a3, j + 3, y0 + 3 * rows);
        }

        /// <summary>Eight rows' integer dot products with one input block (32 quants at x), as float.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Block(Vector256<byte> g0, Vector256<byte> g1, Vector256<byte> g2, Vector256<byte> g3,
            Vector256<byte> g4, Vector256<byte> g5, Vector256<byte> g6, Vector256<byte> g7, sbyte* x, Vector256<short> ones)
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
            return Float(s, ones);
        }

        /// <summary>Eight outputs of input i: the accumulator less 8 sum_b d_w[b] (d_x sum x)[b], into y.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Finish(Vector256<float> acc, int i, float* y0)
        {
            float* s = xs + (long)i * nb;
            var corr = Vector256<float>.Zero;
            for (int b = 0; b < nb; b++) corr = Fma.MultiplyAdd(Avx.LoadVector256(scales + b * InterleavedRows), Vector256.Create(s[b]), corr);
            Fma.MultiplyAddNegated(corr, Vector256.Create(8f), acc).Store(y0);
        }
    }
}
