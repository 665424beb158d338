using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Platform.Inference.Quantization;

/// <summary>
/// A [rows, cols] weight (a Linear's [out, in]) in Q8_0 or Q4_0, multiplied the way llama.cpp multiplies it: each
/// input row is quantized to Q8_0 (ggml's vec_dot_type for both formats) and every block contributes
/// d_w * d_x * (integer dot product of the 32 quants), so the results equal llama.cpp's up to float summation order.
/// </summary>
/// <remarks>
/// Storage holds exactly the bits of ggml's blocks, split into two arrays: the quants of each row contiguous
/// (int8 for Q8_0; ggml's 16 nibble bytes per block for Q4_0), and the fp16 scales [rows, cols / 32]. The split
/// keeps every 32-quant load aligned to its 32 bytes (ggml's 34- and 18-byte blocks are not), without reading a
/// byte more per weight than the GGUF file holds. Native, 64-byte aligned memory: the kernels read it through
/// pointers and the GC never moves or scans it.
/// </remarks>
public sealed unsafe class QuantizedMatrix : IDisposable
{
    private byte* _quants;
    private ushort* _scales;

    private QuantizedMatrix(QuantType type, int rows, int cols)
    {
        if (type is not (QuantType.Q8_0 or QuantType.Q4_0)) throw new ArgumentOutOfRangeException(nameof(type), type, "Q8_0 or Q4_0");
        if (rows <= 0 || cols <= 0 || cols % BlockFormats.BlockSize != 0)
            throw new ArgumentException($"a {type} matrix needs positive rows and a multiple of {BlockFormats.BlockSize} columns, got [{rows}, {cols}]");
        Type = type;
        Rows = rows;
        Cols = cols;
        BlocksPerRow = cols / BlockFormats.BlockSize;
        QuantBytesPerRow = type == QuantType.Q8_0 ? cols : cols / 2;
        _quants = (byte*)NativeMemory.AlignedAlloc((nuint)((long)rows * QuantBytesPerRow), 64);
        _scales = (ushort*)NativeMemory.AlignedAlloc((nuint)((long)rows * BlocksPerRow * 2), 64);
        GC.AddMemoryPressure(Bytes);
    }

    public QuantType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int BlocksPerRow { get; }
    internal int QuantBytesPerRow { get; }
    /// <summary>Memory the weight occupies (the same as its ggml blocks: 8.5 or 4.5 bits per value).</summary>
    public long Bytes => (long)Rows * (QuantBytesPerRow + BlocksPerRow * 2);

    internal byte* QuantRow(int row) => _quants + (long)row * QuantBytesPerRow;
    internal ushort* ScaleRow(int row) => _scales + (long)row * BlocksPerRow;

    /// <summary>Quantizes a row-major float32 [rows, cols] weight with llama.cpp's reference quantizer.</summary>
    public static QuantizedMatrix Quantize(ReadOnlySpan<float> weight, int rows, int cols, QuantType type)
    {
        if (weight.Length != (long)rows * cols) throw new ArgumentException($"weight has {weight.Length} values, [{rows}, {cols}] needs {(long)rows * cols}");
        var m = new QuantizedMatrix(type, rows, cols);
        int rowBytes = (int)BlockFormats.RowBytes(type, cols);
        var blocks = new byte[rowBytes];
        for (int r = 0; r < rows; r++)
        {
            BlockFormats.Quantize(type, weight.Slice(r * cols, cols), blocks);
            m.SetRowFromBlocks(r, blocks);
        }
        return m;
    }

    /// <summary>A matrix from ggml blocks in row order (a GGUF tensor's data: rows x cols / 32 blocks).</summary>
    public static QuantizedMatrix FromBlocks(ReadOnlySpan<byte> blocks, int rows, int cols, QuantType type)
    {
        int rowBytes = (int)BlockFormats.RowBytes(type, cols);
        if (blocks.Length != (long)rows * rowBytes) throw new ArgumentException($"{type} [{rows}, {cols}] needs {(long)rows * rowBytes} bytes, got {blocks.Length}");
        var m = new QuantizedMatrix(type, rows, cols);
        for (int r = 0; r < rows; r++) m.SetRowFromBlocks(r, blocks.Slice(r * rowBytes, rowBytes));
        return m;
    }

    /// <summary>The rows of several matrices of one type and width, stacked (a fused q/k/v or gate/up weight).</summary>
    public static QuantizedMatrix ConcatRows(IReadOnlyList<QuantizedMatrix> parts)
    {
        var first = parts[0];
        if (parts.Any(p => p.Type != first.Type || p.Cols != first.Cols))
            throw new ArgumentException($"stacked matrices must share type and width: {string.Join(", ", parts.Select(p => $"{p.Type} [{p.Rows}, {p.Cols}]"))}");
        var m = new QuantizedMatrix(first.Type, parts.Sum(p => p.Rows), first.Cols);
        int row = 0;
        foreach (var p in parts)
        {
            Buffer.MemoryCopy(p._quants, m.QuantRow(row), (long)p.Rows * p.QuantBytesPerRow, (long)p.Rows * p.QuantBytesPerRow);
            Buffer.MemoryCopy(p._scales, m.ScaleRow(row), (long)p.Rows * p.BlocksPerRow * 2, (long)p.Rows * p.BlocksPerRow * 2);
            row += p.Rows;
        }
        return m;
    }

    /// <summary>Row <paramref name="row"/> as ggml blocks (what a GGUF file stores).</summary>
    public void GetRowBlocks(int row, Span<byte> blocks)
    {
        CheckRow(row);
        int bb = BlockFormats.BlockBytes(Type), qb = bb - 2;
        if (blocks.Length != BlocksPerRow * bb) throw new ArgumentException($"row needs {BlocksPerRow * bb} bytes");
        byte* q = QuantRow(row);
        ushort* s = ScaleRow(row);
        for (int b = 0; b < BlocksPerRow; b++)
        {
            var block = blocks.Slice(b * bb, bb);
            block[0] = (byte)s[b];
            block[1] = (byte)(s[b] >> 8);
            new ReadOnlySpan<byte>(q + b * qb, qb).CopyTo(block[2..]);
        }
    }

    /// <summary>All rows as ggml blocks.</summary>
    public byte[] ToBlocks()
    {
        int rowBytes = (int)BlockFormats.RowBytes(Type, Cols);
        var result = new byte[(long)Rows * rowBytes];
        for (int r = 0; r < Rows; r++) GetRowBlocks(r, result.AsSpan(r * rowBytes, rowBytes));
        return result;
    }

    /// <summary>Row <paramref name="row"/> as float32 (ggml's dequantize_row_*; exact).</summary>
    public void DequantizeRow(int row, Span<float> output)
    {
        if (output.Length != Cols) throw new ArgumentException($"output needs {Cols} values");
        var blocks = new byte[BlockFormats.RowBytes(Type, Cols)];
        GetRowBlocks(row, blocks);
        BlockFormats.Dequantize(Type, blocks, output);
    }

    /// <summary>The whole matrix as row-major float32.</summary>
    public float[] Dequantize()
    {
        var result = new float[(long)Rows * Cols];
        for (int r = 0; r < Rows; r++) DequantizeRow(r, result.AsSpan(r * Cols, Cols));
        return result;
    }

    /// <summary>
    /// Y [batch, rows] = X [batch, cols] W^T (+ bias): X quantized to Q8_0 row by row (llama.cpp's
    /// quantize_row_q8_0), then <see cref="QuantKernels"/> over weight-row chunks spread across threads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Gemm(ReadOnlySpan<float> x, Span<float> y, int batch, int threads, ReadOnlySpan<float> bias = default)
    {
        ObjectDisposedException.ThrowIf(_quants == null, this);
        if (x.Length != (long)batch * Cols || y.Length != (long)batch * Rows || (!bias.IsEmpty && bias.Length != Rows))
            throw new ArgumentException($"quantized GEMM shapes: weight [{Rows}, {Cols}], x {x.Length}, y {y.Length}, batch {batch}, bias {bias.Length}");
        var xq = ArrayPool<sbyte>.Shared.Rent(batch * Cols + 32);
        var xd = ArrayPool<float>.Shared.Rent(batch * BlocksPerRow);
        var xs = ArrayPool<int>.Shared.Rent(batch * BlocksPerRow);
        var xl = ArrayPool<int>.Shared.Rent(batch * BlocksPerRow * 8);
        try
        {
            // The activations are quantized once per GEMM; every weight row then reads them.
            QuantKernels.QuantizeActivations(x, xq, xd, xs, xl, batch, Cols);
            fixed (sbyte* pq = xq)
            fixed (float* pd = xd, py = y)
            fixed (int* ps = xs, pl = xl)
            {
                int parts = (long)Rows * Cols * batch < 262_144 ? 1 : Math.Max(1, Math.Min(threads, Rows / 32));
                if (parts == 1) QuantKernels.Rows(this, pq, pd, ps, pl, py, 0, Rows, batch);
                else
                {
                    // Several chunks per thread, taken dynamically (see RowKernels.Gemm: a descheduled worker on a
                    // shared machine then delays the step by one chunk). Boundaries on multiples of the register
                    // tile's rows keep every chunk on the full tile.
                    int chunks = Math.Min(parts * 4, Math.Max(1, Rows / 16));
                    nint q = (nint)pq, d = (nint)pd, s = (nint)ps, l = (nint)pl, o = (nint)py;
                    Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = parts }, chunk =>
                    {
                        int r0 = (int)((long)Rows * chunk / chunks) / QuantKernels.InterleavedRows * QuantKernels.InterleavedRows;
                        int r1 = chunk == chunks - 1 ? Rows : (int)((long)Rows * (chunk + 1) / chunks) / QuantKernels.InterleavedRows * QuantKernels.InterleavedRows;
                        QuantKernels.Rows(this, (sbyte*)q, (float*)d, (int*)s, (int*)l, (float*)o, r0, r1, batch);
                    });
                }
            }
        }
        finally
        {
            ArrayPool<sbyte>.Shared.Return(xq);
            ArrayPool<float>.Shared.Return(xd);
            ArrayPool<int>.Shared.Return(xs);
            ArrayPool<int>.Shared.Return(xl);
        }
        if (!bias.IsEmpty)
            for (int i = 0; i < batch; i++) System.Numerics.Tensors.TensorPrimitives.Add(y.Slice(i * Rows, Rows), bias, y.Slice(i * Rows, Rows));
    }

    /// <summary>Y = X W^T through <see cref="QuantKernels.RowsScalar"/>, the loop hosts without AVX2 + FMA run (one
    /// thread, no bias): the reference the vector kernels are tested against.</summary>
    internal void GemmScalar(ReadOnlySpan<float> x, Span<float> y, int batch)
    {
        ObjectDisposedException.ThrowIf(_quants == null, this);
        if (x.Length != (long)batch * Cols || y.Length != (long)batch * Rows)
            throw new ArgumentException($"quantized GEMM shapes: weight [{Rows}, {Cols}], x {x.Length}, y {y.Length}, batch {batch}");
        var xq = new sbyte[batch * Cols];
        var xd = new float[batch * BlocksPerRow];
        QuantKernels.QuantizeActivations(x, xq, xd, new int[batch * BlocksPerRow], new int[batch * BlocksPerRow * 8], batch, Cols);
        fixed (sbyte* pq = xq)
        fixed (float* pd = xd, py = y)
            QuantKernels.RowsScalar(this, pq, pd, py, 0, Rows, batch);
    }

    private void SetRowFromBlocks(int row, ReadOnlySpan<byte> blocks)
    {
        int bb = BlockFormats.BlockBytes(Type), qb = bb - 2;
        byte* q = QuantRow(row);
        ushort* s = ScaleRow(row);
        for (int b = 0; b < BlocksPerRow; b++)
        {
            var block = blocks.Slice(b * bb, bb);
            s[b] = (ushort)(block[0] | (block[1] << 8));
            block.Slice(2, qb).CopyTo(new Span<byte>(q + b * qb, qb));
        }
    }

    private void CheckRow(int row)
    {
        ObjectDisposedException.ThrowIf(_quants == null, this);
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"0..{Rows - 1}");
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~QuantizedMatrix() => Free();

    private void Free()
    {
        if (_quants == null) return;
        NativeMemory.AlignedFree(_quants);
        NativeMemory.AlignedFree(_scales);
        _quants = null;
        _scales = null;
        GC.RemoveMemoryPressure(Bytes);
    }
}
