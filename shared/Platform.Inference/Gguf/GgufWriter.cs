using System.Runtime.InteropServices;
using System.Text;

namespace Platform.Inference.Gguf;

/// <summary>
/// Writes GGUF version 3 files (the llama.cpp model format, spec: ggml's docs/gguf.md): a header, typed
/// key/value metadata, a tensor-info table, then the tensor data, each tensor starting at a multiple of
/// <see cref="Alignment"/> bytes from the start of the data section.
/// </summary>
/// <remarks>
/// Hand-written on purpose: no maintained .NET library writes GGUF (LLamaSharp only reads it through
/// llama.cpp; the reference writer is Python's gguf-py). The format is small and fully specified, and the
/// structure tests read every file back with <see cref="GgufReader"/> and load it in llama.cpp.
/// Tensor data is streamed from callbacks, so a model is never held twice in memory.
/// </remarks>
public sealed class GgufWriter
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const uint Version = 3;
    public const uint DefaultAlignment = 32;
    /// <summary>GGML_MAX_NAME is 64 including the terminating zero.</summary>
    public const int MaxTensorNameBytes = 63;
    /// <summary>GGML_MAX_DIMS.</summary>
    public const int MaxDimensions = 4;

    private readonly List<KeyValuePair<string, GgufMetadataValue>> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    public GgufWriter(uint alignment = DefaultAlignment)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "GGUF alignment must be a power of two.");
        Alignment = alignment;
        // Written explicitly (llama.cpp defaults to 32 when absent) so readers never have to guess.
        Add("general.alignment", new GgufMetadataValue(GgufValueType.UInt32, alignment));
    }

    public uint Alignment { get; }
    public int TensorCount => _tensors.Count;
    public IEnumerable<string> MetadataKeys => _metadata.Select(kv => kv.Key);

    public GgufWriter AddString(string key, string value) => Add(key, new(GgufValueType.String, value));
    public GgufWriter AddUInt32(string key, uint value) => Add(key, new(GgufValueType.UInt32, value));
    public GgufWriter AddInt32(string key, int value) => Add(key, new(GgufValueType.Int32, value));
    public GgufWriter AddUInt64(string key, ulong value) => Add(key, new(GgufValueType.UInt64, value));
    public GgufWriter AddFloat32(string key, float value) => Add(key, new(GgufValueType.Float32, value));
    public GgufWriter AddBool(string key, bool value) => Add(key, new(GgufValueType.Bool, value));
    public GgufWriter AddStringArray(string key, IReadOnlyList<string> values) =>
        Add(key, new(GgufValueType.Array, values.ToArray(), GgufValueType.String));
    public GgufWriter AddInt32Array(string key, IReadOnlyList<int> values) =>
        Add(key, new(GgufValueType.Array, values.ToArray(), GgufValueType.Int32));
    public GgufWriter AddFloat32Array(string key, IReadOnlyList<float> values) =>
        Add(key, new(GgufValueType.Array, values.ToArray(), GgufValueType.Float32));

    private GgufWriter Add(string key, GgufMetadataValue value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (!_keys.Add(key))
            throw new ArgumentException($"GGUF metadata key '{key}' was added twice.", nameof(key));
        _metadata.Add(new(key, value));
        return this;
    }

    /// <summary>Adds a float32 tensor from memory; <paramref name="torchShape"/> is the row-major (PyTorch) shape.</summary>
    public GgufWriter AddTensor(string name, ReadOnlyMemory<float> data, params long[] torchShape)
    {
        long count = torchShape.Aggregate(1L, (a, d) => a * d);
        if (count != data.Length)
            throw new ArgumentException($"Tensor '{name}': shape [{string.Join(", ", torchShape)}] has {count} elements but {data.Length} were given.", nameof(data));
        return AddTensor(name, GgufTensorType.F32, torchShape, s => s.Write(MemoryMarshal.AsBytes(data.Span)));
    }

    /// <summary>
    /// Adds a tensor whose bytes <paramref name="writeData"/> streams when the file is written (it must write
    /// exactly the tensor's size in bytes). <paramref name="torchShape"/> is the row-major (PyTorch) shape;
    /// GGUF stores dimensions in the reverse order (ne[0] = the innermost, contiguous one).
    /// </summary>
    public GgufWriter AddTensor(string name, GgufTensorType type, long[] torchShape, Action<Stream> writeData)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(writeData);
        if (Encoding.UTF8.GetByteCount(name) > MaxTensorNameBytes)
            throw new ArgumentException($"Tensor name '{name}' is longer than {MaxTensorNameBytes} bytes (GGML_MAX_NAME).", nameof(name));
        if (torchShape.Length is 0 or > MaxDimensions)
            throw new ArgumentException($"Tensor '{name}' has {torchShape.Length} dimensions; GGUF allows 1 to {MaxDimensions}.", nameof(torchShape));
        if (torchShape.Any(d => d <= 0))
            throw new ArgumentException($"Tensor '{name}' has a non-positive dimension in [{string.Join(", ", torchShape)}].", nameof(torchShape));
        if (!_tensorNames.Add(name))
            throw new ArgumentException($"Tensor '{name}' was added twice.", nameof(name));
        var dims = torchShape.Reverse().Select(d => (ulong)d).ToArray();
        _tensors.Add(new PendingTensor(new GgufTensorInfo(name, dims, type, 0), writeData));
        return this;
    }

    /// <summary>Writes the file (to a temporary name first, renamed on success, so a failed export leaves no half file).</summary>
    public void WriteTo(string path)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string temp = full + ".partial";
        try
        {
            using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                WriteTo(fs);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    public void WriteTo(Stream stream)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value.Type, value.Value, value.ElementType, key);
        }

        ulong offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Info.Name);
            w.Write((uint)t.Info.Dimensions.Count);
            foreach (var d in t.Info.Dimensions) w.Write(d);
            w.Write((uint)t.Info.Type);
            w.Write(offset);
            offset = AlignUp(offset + t.Info.ByteCount, Alignment);
        }
        w.Flush();
        WritePadding(stream, Alignment);

        long dataStart = stream.Position;
        foreach (var t in _tensors)
        {
            long before = stream.Position;
            t.WriteData(stream);
            long written = stream.Position - before;
            if ((ulong)written != t.Info.ByteCount)
                throw new InvalidOperationException($"Tensor '{t.Info.Name}' wrote {written} bytes, expected {t.Info.ByteCount}.");
            WritePaddingFrom(stream, dataStart, Alignment);
        }
        stream.Flush();
    }

    internal static ulong AlignUp(ulong value, uint alignment) => (value + alignment - 1) / alignment * alignment;

    private static void WritePadding(Stream s, uint alignment) => WritePaddingFrom(s, 0, alignment);

    private static void WritePaddingFrom(Stream s, long origin, uint alignment)
    {
        ulong rel = (ulong)(s.Position - origin);
        int pad = (int)(AlignUp(rel, alignment) - rel);
        if (pad > 0) s.Write(new byte[pad]);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object value, GgufValueType? elementType, string key)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write((byte)value); break;
            case GgufValueType.Int8: w.Write((sbyte)value); break;
            case GgufValueType.UInt16: w.Write((ushort)value); break;
            case GgufValueType.Int16: w.Write((short)value); break;
            case GgufValueType.UInt32: w.Write((uint)value); break;
            case GgufValueType.Int32: w.Write((int)value); break;
            case GgufValueType.Float32: w.Write((float)value); break;
            case GgufValueType.Bool: w.Write((byte)((bool)value ? 1 : 0)); break;
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt64: w.Write((ulong)value); break;
            case GgufValueType.Int64: w.Write((long)value); break;
            case GgufValueType.Float64: w.Write((double)value); break;
            case GgufValueType.Array:
                var et = elementType ?? throw new InvalidOperationException($"Array metadata '{key}' has no element type.");
                var array = (Array)value;
                w.Write((uint)et);
                w.Write((ulong)array.Length);
                foreach (var item in array) WriteValue(w, et, item!, null, key);
                break;
            default: throw new InvalidOperationException($"Metadata '{key}' has unsupported type {type}.");
        }
    }

    private sealed record PendingTensor(GgufTensorInfo Info, Action<Stream> WriteData);
}
