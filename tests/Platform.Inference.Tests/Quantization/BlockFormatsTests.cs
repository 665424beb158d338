using Platform.Inference.Quantization;

namespace Platform.Inference.Tests.Quantization;

public sealed class BlockFormatsTests
{
    [Fact]
    public void QuantizeQ8_0_IntegerBlock_ScaleOneAndRoundsHalfAwayFromZero()
    {
        // max |x| = 127 gives d = 1 (fp16 0x3C00); roundf rounds 2.5 to 3 and -2.5 to -3.
        var x = new float[32];
        x[0] = 127; x[1] = -127; x[2] = 2.5f; x[3] = -2.5f; x[4] = 0.49f; x[5] = -64;
        var y = new byte[BlockFormats.Q8_0BlockBytes];

        BlockFormats.QuantizeQ8_0(x, y);

        Assert.Equal(new byte[] { 0x00, 0x3C }, y[..2]);
        Assert.Equal(new sbyte[] { 127, -127, 3, -3, 0, -64 }, y[2..8].Select(b => (sbyte)b).ToArray());
        Assert.All(y[8..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void QuantizeQ4_0_SignedMaximum_NibblesLowFirstHalfHighSecondHalf()
    {
        // The largest magnitude is -8, so d = -8 / -8 = 1 and q = trunc(x + 8.5) clamped to 15; an equal +8 that
        // comes later does not win (strict comparison) and clamps to 15.
        var x = new float[32];
        x[0] = -8; x[1] = 7; x[2] = 3; x[3] = 0.4f; x[4] = -0.6f; x[5] = 8;
        x[16] = 1; x[17] = -3;
        var y = new byte[BlockFormats.Q4_0BlockBytes];

        BlockFormats.QuantizeQ4_0(x, y);

        Assert.Equal(new byte[] { 0x00, 0x3C }, y[..2]);
        // byte j = q[j] | q[j + 16] << 4; q = x + 8 for these integers.
        Assert.Equal((byte)(0 | (9 << 4)), y[2]);
        Assert.Equal((byte)(15 | (5 << 4)), y[3]);
        Assert.Equal((byte)(11 | (8 << 4)), y[4]);
        Assert.Equal((byte)(8 | (8 << 4)), y[5]);  // 0.4 -> 8
        Assert.Equal((byte)(7 | (8 << 4)), y[6]);  // -0.6 -> 7.9 -> 7
        Assert.Equal((byte)(15 | (8 << 4)), y[7]); // 8 -> 16.5 -> 15
    }

    [Theory]
    [InlineData(QuantType.Q8_0, 1.0 / 254)]
    // Q4_0 spans -8d..7d with d = max / -8: values of the other sign near the maximum clamp to 7d, a full step off.
    [InlineData(QuantType.Q4_0, 1.0 / 8)]
    public void QuantizeThenDequantize_RandomRows_ErrorWithinHalfAStep(QuantType type, double halfStep)
    {
        var rng = new Random(3);
        var x = Enumerable.Range(0, 32 * 40).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (float)Math.Pow(10, rng.Next(-3, 3))).ToArray();
        var blocks = new byte[BlockFormats.RowBytes(type, x.Length)];
        var back = new float[x.Length];

        BlockFormats.Quantize(type, x, blocks);
        BlockFormats.Dequantize(type, blocks, back);

        for (int b = 0; b < x.Length / 32; b++)
        {
            float amax = x.Skip(b * 32).Take(32).Max(MathF.Abs);
            for (int j = b * 32; j < b * 32 + 32; j++)
                Assert.True(Math.Abs(back[j] - x[j]) <= amax * (halfStep * 1.01 + 1e-3), $"{type} value {j}: {x[j]} -> {back[j]} (block max {amax})");
        }
    }

    [Fact]
    public void Quantize_LengthNotAMultipleOf32_Throws()
    {
        Assert.Throws<ArgumentException>(() => BlockFormats.QuantizeQ8_0(new float[33], new byte[68]));
        Assert.Throws<ArgumentException>(() => BlockFormats.RowBytes(QuantType.Q4_0, 48));
    }
}
