using System.Buffers.Binary;
using System.Text.Json;
using Platform.Inference.Engine;

namespace Platform.Inference.Loading;

/// <summary>
/// Reads and checks a .safetensors header (8-byte little-endian length + JSON, huggingface/safetensors format)
/// before TorchSharp.PyBridge loads the data, so a truncated or corrupt file fails with a message that names the
/// file and the problem instead of a native exception.
/// </summary>
public sealed record SafetensorsHeader(string Path, IReadOnlyDictionary<string, SafetensorsEntry> Tensors)
{
    private static readonly Dictionary<string, int> DtypeSizes = new()
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    public static SafetensorsHeader Read(string path)
    {
        if (!File.Exists(path)) throw new ModelLoadException($"{path}: file not found");
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        Span<byte> lengthBytes = stackalloc byte[8];
        if (fileLength < 8 || stream.Read(lengthBytes) != 8)
            throw new ModelLoadException($"{path}: corrupt safetensors file: shorter than its 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength == 0 || headerLength > 100_000_000 || (long)headerLength > fileLength - 8)
            throw new ModelLoadException($"{path}: corrupt safetensors file: header length {headerLength} does not fit the file ({fileLength} bytes)");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataLength = fileLength - 8 - (long)headerLength;
        var tensors = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(header);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__") continue;
                var dtype = p.Value.GetProperty("dtype").GetString() ?? "";
                var shape = p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                if (!DtypeSizes.TryGetValue(dtype, out var size))
                    throw new ModelLoadException($"{path}: tensor '{p.Name}' has unsupported dtype {dtype}");
                long expected = shape.Aggregate(1L, (a, b) => a * b) * size;
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] > dataLength || offsets[1] - offsets[0] != expected)
                    throw new ModelLoadException($"{path}: corrupt safetensors file: tensor '{p.Name}' data_offsets [{string.Join(", ", offsets)}] do not match its shape or the file size (truncated?)");
                tensors[p.Name] = new SafetensorsEntry(dtype, shape);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new ModelLoadException($"{path}: corrupt safetensors file: header is not valid JSON ({e.Message})", e);
        }
        return new SafetensorsHeader(path, tensors);
    }
}

public sealed record SafetensorsEntry(string Dtype, long[] Shape);
