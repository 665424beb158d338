using Platform.Inference.Quantization;

namespace Platform.Inference.Tests.Quantization;

public sealed class QuantizedMatrixTests
{
    [Fact]
    public void FromBlocks_ToBlocks_SameBytes()
    {
        var rng = new Random(1);
        var w = RandomValues(rng, 5 * 96);
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
        {
            var blocks = new byte[5 * BlockFormats.RowBytes(type, 96)];
            for (int r = 0; r < 5; r++)
                BlockFormats.Quantize(type, w.AsSpan(r * 96, 96), blocks.AsSpan(r * (int)BlockFormats.RowBytes(type, 96), (int)BlockFormats.RowBytes(type, 96)));
            using var m = QuantizedMatrix.FromBlocks(blocks, 5, 96, type);
            using var q = QuantizedMatrix.Quantize(w, 5, 96, type);
            Assert.Equal(blocks, m.ToBlocks());
            Assert.Equal(blocks, q.ToBlocks());
        }
    }

    [Fact]
    public void QuantizeActivations_MatchesGgmlAvx2Rounding()
    {
        // ggml's AVX2 quantize_row_q8_0: q = round-half-even(x * 127 / max|x|), d = fp16(max|x| / 127).
        var rng = new Random(2);
        var x = RandomValues(rng, 3 * 64);
        x[5] = 0; // a zero value, and a whole zero block below
        for (int j = 128; j < 160; j++) x[j] = 0;
        var q = new sbyte[x.Length];
        var d = new float[x.Length / 32];
        var s = new int[x.Length / 32];
        var l = new int[x.Length / 4];

        QuantKernels.QuantizeActivations(x, q, d, s, l, 3, 64);

        for (int b = 0; b < x.Length / 32; b++)
        {
            float max = x.Skip(b * 32).Take(32).Max(MathF.Abs);
            Assert.Equal((float)(Half)(max / 127f), d[b]);
            float id = max != 0 ? 127f / max : 0;
            for (int j = b * 32; j < b * 32 + 32; j++) Assert.Equal((sbyte)MathF.Round(x[j] * id, MidpointRounding.ToEven), q[j]);
            // The block sum Q4_0's offset term needs.
            Assert.Equal(q.Skip(b * 32).Take(32).Sum(v => v), s[b]);
            for (int lane = 0; lane < 8; lane++) Assert.Equal(8 * q.Skip(b * 32 + lane * 4).Take(4).Sum(v => v), l[b * 8 + lane]);
        }
    }

    [Fact]
    public void QuantizeActivations_ShortBuffer_Throws()
    {
        var x = new float[64];
        var e = Assert.Throws<ArgumentException>(() => QuantKernels.QuantizeActivations(x, new sbyte[64], new float[2], new int[2], new int[15], 1, 64));
        Assert.Contains("xl 15", e.Message);
    }

    /// <summary>
    /// Every tile shape and tail: batches 1..3 (the 4 x 3 row tile's input tails), 4..7 (Q4_0: eight-row interleaved
    /// tiles of 4 inputs with 0..3 left; Q8_0: still the row tile), 8, 9 and 11 (Q8_0's interleaved path with 0, 1
    /// and 3 left), 16 and 70, 130 (past one cache block of inputs); rows a multiple of 8 (200), 8k + 4 (204: one
    /// 4-row tile after the groups) and 8k + 3 (203: single rows); 1 and 2 threads (chunk boundaries).
    /// </summary>
    public static TheoryData<QuantType, int, int, int> Cases()
    {
        var data = new TheoryData<QuantType, int, int, int>();
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
            foreach (int rows in new[] { 200, 203, 204 })
                foreach (int batch in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 16, 70, 130 })
                    foreach (int threads in new[] { 1, 2 })
                        if (threads == 1 || batch is 16 or 70 or 130)
                            data.Add(type, rows, batch, threads);
        return data;
    }

    /// <summary>
    /// The kernel against the float32 reference: exactly (up to float summation order) the dequantized weights
    /// times the Q8_0-quantized inputs, and close to the unquantized product (within the formats' error).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm_RandomWeights_MatchesDequantizedReference(QuantType type, int rows, int batch, int threads)
    {
        const int cols = 320;
        var rng = new Random(rows * 1000 + batch * 10 + threads);
        var w = RandomValues(rng, rows * cols);
        var x = RandomValues(rng, batch * cols);
        var bias = RandomValues(rng, rows);
        using var m = QuantizedMatrix.Quantize(w, rows, cols, type);
        var y = new float[batch * rows];

        m.Gemm(x, y, batch, threads, bias);

        var wd = m.Dequantize();
        var xq = new sbyte[x.Length];
        var xd = new float[x.Length / 32];
        QuantKernels.QuantizeActivations(x, xq, xd, new int[x.Length / 32], new int[x.Length / 4], batch, cols);
        double worstExact = 0, worstFloat = 0;
        for (int i = 0; i < batch; i++)
        {
            double scale = 0;
            var exact = new double[rows];
            var plain = new double[rows];
            for (int r = 0; r < rows; r++)
            {
                double e = bias[r], p = bias[r];
                for (int k = 0; k < cols; k++)
                {
                    e += (double)wd[r * cols + k] * xq[i * cols + k] * xd[(i * cols + k) / 32];
                    p += (double)w[r * cols + k] * x[i * cols + k];
                }
                exact[r] = e;
                plain[r] = p;
                scale = Math.Max(scale, Math.Abs(p));
            }
            for (int r = 0; r < rows; r++)
            {
                worstExact = Math.Max(worstExact, Math.Abs(y[i * rows + r] - exact[r]) / scale);
                worstFloat = Math.Max(worstFloat, Math.Abs(y[i * rows + r] - plain[r]) / scale);
            }
        }
        Assert.True(worstExact < 1e-5, $"{type} [{rows}, {cols}] batch {batch}: relative difference to the dequantized reference {worstExact:E2}");
        Assert.True(worstFloat < (type == QuantType.Q8_0 ? 0.02 : 0.15), $"{type} [{rows}, {cols}] batch {batch}: relative difference to float32 {worstFloat:E2}");
    }

    /// <summary>The vector kernels against the scalar loop on the same quantized inputs: the same integer dot
    /// products per block, so the outputs differ by float summation order only.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm_RandomWeights_MatchesScalarPath(QuantType type, int rows, int batch, int threads)
    {
        const int cols = 576;
        var rng = new Random(rows * 7 + batch);
        var w = RandomValues(rng, rows * cols);
        var x = RandomValues(rng, batch * cols);
        using var m = QuantizedMatrix.Quantize(w, rows, cols, type);
        var y = new float[batch * rows];
        var reference = new float[batch * rows];

        m.Gemm(x, y, batch, threads);
        m.GemmScalar(x, reference, batch);

        double scale = reference.Max(Math.Abs), worst = 0;
        for (int i = 0; i < y.Length; i++) worst = Math.Max(worst, Math.Abs(y[i] - reference[i]) / scale);
        Assert.True(worst < 1e-5, $"{type} [{rows}, {cols}] batch {batch} threads {threads}: relative difference to the scalar path {worst:E2}");
    }

    [Fact]
    public void Gemm_ZeroInputBlock_GivesBias()
    {
        // A block of zeros quantizes to d = 0 (no division by zero): every output is the bias alone.
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
        {
            var rng = new Random(5);
            using var m = QuantizedMatrix.Quantize(RandomValues(rng, 16 * 64), 16, 64, type);
            var bias = RandomValues(rng, 16);
            var y = new float[8 * 16];
            m.Gemm(new float[8 * 64], y, 8, 1, bias);
            for (int i = 0; i < 8; i++) Assert.Equal(bias, y.Skip(i * 16).Take(16));
        }
    }

    [Fact]
    public void ConcatRows_StacksRowsInOrder()
    {
        var rng = new Random(4);
        var a = RandomValues(rng, 2 * 64);
        var b = RandomValues(rng, 3 * 64);
        using var qa = QuantizedMatrix.Quantize(a, 2, 64, QuantType.Q4_0);
        using var qb = QuantizedMatrix.Quantize(b, 3, 64, QuantType.Q4_0);
        using var both = QuantizedMatrix.ConcatRows([qa, qb]);
        Assert.Equal(qa.ToBlocks().Concat(qb.ToBlocks()), both.ToBlocks());
        using var q8 = QuantizedMatrix.Quantize(a, 2, 64, QuantType.Q8_0);
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.ConcatRows([qa, q8]));
    }

    private static float[] RandomValues(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
