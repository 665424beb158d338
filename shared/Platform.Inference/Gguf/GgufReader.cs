using System.Runtime.InteropServices;
using System.Text;

namespace Platform.Inference.Gguf;

/// <summary>
/// Reads the header, metadata and tensor table of a GGUF v2/v3 file, validating offsets and alignment, and
/// reads float32 tensor data on demand. Used to check exported files and by the export command's summary.
/// Hand-written for the same reason as <see cref="GgufWriter"/>: no .NET GGUF library exposes the raw structure.
/// </summary>
public sealed class GgufReader
{
    private GgufReader(string path, uint version, IReadOnlyDictionary<string, GgufMetadataValue> metadata,
        IReadOnlyList<string> keyOrder, IReadOnlyList<GgufTensorInfo> tensors, uint alignment, long dataOffset)
    {
        Path = path;
        Version = version;
        Metadata = metadata;
        MetadataKeyOrder = keyOrder;
        Tensors = tensors;
        Alignment = alignment;
        DataOffset = dataOffset;
    }

    public string Path { get; }
    public uint Version { get; }
    public IReadOnlyDictionary<string, GgufMetadataValue> Metadata { get; }
    public IReadOnlyList<string> MetadataKeyOrder { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public uint Alignment { get; }
    /// <summary>Absolute file offset of the data section.</summary>
    public long DataOffset { get; }

    public GgufTensorInfo Tensor(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name) ?? throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="InvalidDataException"/> naming the file and the problem.</summary>
    public static GgufReader Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"GGUF file not found: {path}", path);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long length = fs.Length;
        using var r = new BinaryReader(fs, Encoding.UTF8, leaveOpen: true);
        try
        {
            if (length < 24 || r.ReadUInt32() != GgufWriter.Magic)
                throw new InvalidDataException($"{path}: not a GGUF file (bad magic).");
            uint version = r.ReadUInt32();
            if (version is < 2 or > 3)
                throw new InvalidDataException($"{path}: unsupported GGUF version {version} (2 and 3 are supported).");
            ulong tensorCount = r.ReadUInt64();
            ulong kvCount = r.ReadUInt64();
            if (tensorCount > (ulong)length || kvCount > (ulong)length)
                throw new InvalidDataException($"{path}: header claims {tensorCount} tensors and {kvCount} metadata entries, more than the file can hold.");

            var metadata = new Dictionary<string, GgufMetadataValue>(StringComparer.Ordinal);
            var order = new List<string>();
            for (ulong i = 0; i < kvCount; i++)
            {
                string key = ReadString(r, length, path);
                var type = (GgufValueType)r.ReadUInt32();
                var value = ReadValue(r, type, length, path, key);
                if (!metadata.TryAdd(key, value))
                    throw new InvalidDataException($"{path}: metadata key '{key}' appears twice.");
                order.Add(key);
            }

            uint alignment = metadata.TryGetValue("general.alignment", out var a) ? a.AsUInt32() : GgufWriter.DefaultAlignment;
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
                throw new InvalidDataException($"{path}: general.alignment {alignment} is not a power of two.");

            var tensors = new List<GgufTensorInfo>();
            for (ulong i = 0; i < tensorCount; i++)
            {
                string name = ReadString(r, length, path);
                uint nDims = r.ReadUInt32();
                if (nDims is 0 or > GgufWriter.MaxDimensions)
                    throw new InvalidDataException($"{path}: tensor '{name}' has {nDims} dimensions.");
                var dims = new ulong[nDims];
                for (int d = 0; d < nDims; d++) dims[d] = r.ReadUInt64();
                var type = (GgufTensorType)r.ReadUInt32();
                ulong offset = r.ReadUInt64();
                if (offset % alignment != 0)
                    throw new InvalidDataException($"{path}: tensor '{name}' offset {offset} is not a multiple of the alignment {alignment}.");
                tensors.Add(new GgufTensorInfo(name, dims, type, offset));
            }

            long dataOffset = (long)GgufWriter.AlignUp((ulong)fs.Position, alignment);
            foreach (var t in tensors)
            {
                ulong bytes = t.Type is GgufTensorType.F32 or GgufTensorType.F16 or GgufTensorType.Q4_0 or GgufTensorType.Q8_0 ? t.ByteCount : 0;
                if ((ulong)dataOffset + t.Offset + bytes > (ulong)length)
                    throw new InvalidDataException($"{path}: tensor '{t.Name}' ends past the end of the file (truncated?).");
            }
            return new GgufReader(path, version, metadata, order, tensors, alignment, dataOffset);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: unexpected end of file while reading the GGUF header.", e);
        }
    }

    /// <summary>Reads a float32 tensor's data in storage order (row-major in <see cref="GgufTensorInfo.TorchShape"/>).</summary>
    public float[] ReadF32(string name)
    {
        var t = Tensor(name);
        if (t.Type != GgufTensorType.F32)
            throw new InvalidOperationException($"{Path}: tensor '{name}' is {t.Type}, not F32.");
        var result = new float[checked((int)t.ElementCount)];
        using var fs = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        fs.Seek(DataOffset + (long)t.Offset, SeekOrigin.Begin);
        fs.ReadExactly(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    /// <summary>A tensor's data as stored (F32, F16, Q8_0 or Q4_0 blocks).</summary>
    public byte[] ReadBytes(GgufTensorInfo t)
    {
        var result = new byte[checked((long)t.ByteCount)];
        using var fs = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        fs.Seek(DataOffset + (long)t.Offset, SeekOrigin.Begin);
        fs.ReadExactly(result);
        return result;
    }

    private static string ReadString(BinaryReader r, long fileLength, string path)
    {
        ulong len = r.ReadUInt64();
        if (len > (ulong)(fileLength - r.BaseStream.Position))
            throw new InvalidDataException($"{path}: string length {len} at offset {r.BaseStream.Position - 8} runs past the end of the file.");
        return Encoding.UTF8.GetString(r.ReadBytes((int)len));
    }

    private static GgufMetadataValue ReadValue(BinaryReader r, GgufValueType type, long fileLength, string path, string key) =>
        type switch
        {
            GgufValueType.Array => ReadArray(r, fileLength, path, key),
            _ => new GgufMetadataValue(type, ReadScalar(r, type, fileLength, path, key)),
        };

    private static object ReadScalar(BinaryReader r, GgufValueType type, long fileLength, string path, string key) =>
        type switch
        {
            GgufValueType.UInt8 => r.ReadByte(),
            GgufValueType.Int8 => r.ReadSByte(),
            GgufValueType.UInt16 => r.ReadUInt16(),
            GgufValueType.Int16 => r.ReadInt16(),
            GgufValueType.UInt32 => r.ReadUInt32(),
            GgufValueType.Int32 => r.ReadInt32(),
            GgufValueType.Float32 => r.ReadSingle(),
            GgufValueType.Bool => r.ReadByte() switch
            {
                0 => false,
                1 => true,
                var b => throw new InvalidDataException($"{path}: metadata '{key}' has bool byte {b}."),
            },
            GgufValueType.String => ReadString(r, fileLength, path),
            GgufValueType.UInt64 => r.ReadUInt64(),
            GgufValueType.Int64 => r.ReadInt64(),
            GgufValueType.Float64 => r.ReadDouble(),
            _ => throw new InvalidDataException($"{path}: metadata '{key}' has unknown value type {(uint)type}."),
        };

    private static GgufMetadataValue ReadArray(BinaryReader r, long fileLength, string path, string key)
    {
        var et = (GgufValueType)r.ReadUInt32();
        ulong n = r.ReadUInt64();
        if (et == GgufValueType.Array)
            throw new InvalidDataException($"{path}: metadata '{key}' is a nested array (not supported).");
        if (n > (ulong)(fileLength - r.BaseStream.Position))
            throw new InvalidDataException($"{path}: metadata '{key}' array length {n} runs past the end of the file.");
        Array values = et switch
        {
            GgufValueType.String => new string[n],
            GgufValueType.Int32 => new int[n],
            GgufValueType.UInt32 => new uint[n],
            GgufValueType.Float32 => new float[n],
            GgufValueType.Bool => new bool[n],
            GgufValueType.UInt8 => new byte[n],
            GgufValueType.Int8 => new sbyte[n],
            GgufValueType.UInt16 => new ushort[n],
            GgufValueType.Int16 => new short[n],
            GgufValueType.UInt64 => new ulong[n],
            GgufValueType.Int64 => new long[n],
            GgufValueType.Float64 => new double[n],
            _ => throw new InvalidDataException($"{path}: metadata '{key}' has unknown array element type {(uint)et}."),
        };
        for (long i = 0; i < (long)n; i++) values.SetValue(ReadScalar(r, et, fileLength, path, key), i);
        return new GgufMetadataValue(GgufValueType.Array, values, et);
    }
}
