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

        QuantKernels.QuantizeActivations(x, q, d, 3, 64);

        for (int b = 0; b < x.Length / 32; b++)
        {
            float max = x.Skip(b * 32).Take(32).Max(MathF.Abs);
            Assert.Equal((float)(Half)(max / 127f), d[b]);
            float id = max != 0 ? 127f / max : 0;
            for (int j = b * 32; j < b * 32 + 32; j++) Assert.Equal((sbyte)MathF.Round(x[j] * id, MidpointRounding.ToEven), q[j]);
        }
    }

    public static TheoryData<QuantType, int, int> Cases()
    {
        var data = new TheoryData<QuantType, int, int>();
        foreach (var type in new[] { QuantType.Q8_0, QuantType.Q4_0 })
            foreach (int batch in new[] { 1, 3, 4, 16, 70 })
                foreach (int threads in new[] { 1, 2 })
                    data.Add(type, batch, threads);
        return data;
    }

    /// <summary>
    /// The kernel against the float32 reference: exactly (up to float summation order) the dequantized weights
    /// times the Q8_0-quantized inputs, and close to the unquantized product (within the formats' error).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm_RandomWeights_MatchesDequantizedReference(QuantType type, int batch, int threads)
    {
        const int rows = 200, cols = 320;
        var rng = new Random(batch * 10 + threads);
        var w = RandomValues(rng, rows * cols);
        var x = RandomValues(rng, batch * cols);
        var bias = RandomValues(rng, rows);
        using var m = QuantizedMatrix.Quantize(w, rows, cols, type);
        var y = new float[batch * rows];

        m.Gemm(x, y, batch, threads, bias);

        var wd = m.Dequantize();
        var xq = new sbyte[x.Length];
        var xd = new float[x.Length / 32];
        QuantKernels.QuantizeActivations(x, xq, xd, batch, cols);
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
        Assert.True(worstExact < 1e-5, $"{type} batch {batch}: relative difference to the dequantized reference {worstExact:E2}");
        Assert.True(worstFloat < (type == QuantType.Q8_0 ? 0.02 : 0.15), $"{type} batch {batch}: relative difference to float32 {worstFloat:E2}");
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
