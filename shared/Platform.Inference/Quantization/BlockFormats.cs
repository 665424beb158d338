using System.Runtime.CompilerServices;

namespace Platform.Inference.Quantization;

/// <summary>
/// llama.cpp's Q8_0 and Q4_0 block formats (ggml-common.h) and its reference quantizers (ggml-quants.c,
/// quantize_row_q8_0_ref / quantize_row_q4_0_ref / dequantize_row_*), byte for byte: a file quantized here holds
/// the same bytes as one quantized by llama.cpp's own quantizer from the same float32 weights (a test checks it).
/// <list type="bullet">
/// <item>Q8_0, 34 bytes per 32 values: fp16 d, then 32 int8 q; value = q * d, d = max|x| / 127, q = roundf(x / d).</item>
/// <item>Q4_0, 18 bytes per 32 values: fp16 d, then 16 bytes; byte j holds value j in its low nibble and value
/// j + 16 in its high nibble; value = (q - 8) * d, where d = (the value of largest magnitude, with its sign) / -8.</item>
/// </list>
/// fp16 conversion is IEEE round-to-nearest-even, like ggml's GGML_FP32_TO_FP16 (F16C's vcvtps2ph with mode 0).
/// </summary>
public static class BlockFormats
{
    /// <summary>Values per block (QK8_0 = QK4_0 = 32).</summary>
    public const int BlockSize = 32;
    public const int Q8_0BlockBytes = 2 + BlockSize;
    public const int Q4_0BlockBytes = 2 + BlockSize / 2;

    /// <summary>Bytes of one block of <paramref name="type"/>.</summary>
    public static int BlockBytes(QuantType type) => type switch
    {
        QuantType.Q8_0 => Q8_0BlockBytes,
        QuantType.Q4_0 => Q4_0BlockBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a block type"),
    };

    /// <summary>Bytes of one row of <paramref name="cols"/> values (a multiple of 32).</summary>
    public static long RowBytes(QuantType type, long cols)
    {
        if (cols % BlockSize != 0) throw new ArgumentException($"{type} rows need a multiple of {BlockSize} values, got {cols}");
        return cols / BlockSize * BlockBytes(type);
    }

    /// <summary>quantize_row_q8_0_ref: x.Length a multiple of 32; y holds x.Length / 32 blocks of 34 bytes.</summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        int blocks = CheckSizes(x.Length, y.Length, Q8_0BlockBytes);
        for (int b = 0; b < blocks; b++)
        {
            var xb = x.Slice(b * BlockSize, BlockSize);
            var yb = y.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float amax = 0;
            foreach (var v in xb) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            WriteHalf(yb, d);
            for (int j = 0; j < BlockSize; j++) yb[2 + j] = (byte)(sbyte)MathF.Round(xb[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>quantize_row_q4_0_ref.</summary>
    public static void QuantizeQ4_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        int blocks = CheckSizes(x.Length, y.Length, Q4_0BlockBytes);
        for (int b = 0; b < blocks; b++)
        {
            var xb = x.Slice(b * BlockSize, BlockSize);
            var yb = y.Slice(b * Q4_0BlockBytes, Q4_0BlockBytes);
            float amax = 0, max = 0;
            foreach (var v in xb)
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            WriteHalf(yb, d);
            for (int j = 0; j < BlockSize / 2; j++)
            {
                // (int8_t)(x + 8.5f) truncates toward zero, then MIN(15, ...).
                int lo = Math.Min(15, (int)(sbyte)(xb[j] * id + 8.5f));
                int hi = Math.Min(15, (int)(sbyte)(xb[j + BlockSize / 2] * id + 8.5f));
                yb[2 + j] = (byte)(lo | (hi << 4));
            }
        }
    }

    public static void DequantizeQ8_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        int blocks = CheckSizes(y.Length, x.Length, Q8_0BlockBytes);
        for (int b = 0; b < blocks; b++)
        {
            var xb = x.Slice(b * Q8_0BlockBytes, Q8_0BlockBytes);
            float d = ReadHalf(xb);
            for (int j = 0; j < BlockSize; j++) y[b * BlockSize + j] = (sbyte)xb[2 + j] * d;
        }
    }

    public static void DequantizeQ4_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        int blocks = CheckSizes(y.Length, x.Length, Q4_0BlockBytes);
        for (int b = 0; b < blocks; b++)
        {
            var xb = x.Slice(b * Q4_0BlockBytes, Q4_0BlockBytes);
            float d = ReadHalf(xb);
            for (int j = 0; j < BlockSize / 2; j++)
            {
                y[b * BlockSize + j] = ((xb[2 + j] & 0x0F) - 8) * d;
                y[b * BlockSize + j + BlockSize / 2] = ((xb[2 + j] >> 4) - 8) * d;
            }
        }
    }

    public static void Quantize(QuantType type, ReadOnlySpan<float> x, Span<byte> y)
    {
        if (type == QuantType.Q8_0) QuantizeQ8_0(x, y);
        else if (type == QuantType.Q4_0) QuantizeQ4_0(x, y);
        else throw new ArgumentOutOfRangeException(nameof(type), type, "not a block type");
    }

    public static void Dequantize(QuantType type, ReadOnlySpan<byte> x, Span<float> y)
    {
        if (type == QuantType.Q8_0) DequantizeQ8_0(x, y);
        else if (type == QuantType.Q4_0) DequantizeQ4_0(x, y);
        else throw new ArgumentOutOfRangeException(nameof(type), type, "not a block type");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float ReadHalf(ReadOnlySpan<byte> block) => (float)BitConverter.UInt16BitsToHalf((ushort)(block[0] | (block[1] << 8)));

    private static void WriteHalf(Span<byte> block, float value)
    {
        ushort bits = BitConverter.HalfToUInt16Bits((Half)value);
        block[0] = (byte)bits;
        block[1] = (byte)(bits >> 8);
    }

    private static int CheckSizes(int values, int bytes, int blockBytes)
    {
        if (values % BlockSize != 0 || bytes != values / BlockSize * blockBytes)
            throw new ArgumentException($"{values} values need {values / BlockSize * blockBytes} bytes of {blockBytes}-byte blocks (a multiple of {BlockSize} values), got {bytes}");
        return values / BlockSize;
    }
}
