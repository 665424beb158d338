namespace Platform.Inference.Gguf;

/// <summary>Metadata value types of the GGUF format (ggml's gguf.h, enum gguf_type); the numbers are on disk.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>The tensor element types this project writes and reads (ggml.h, enum ggml_type); the numbers are on disk.</summary>
public enum GgufTensorType : uint
{
    F32 = 0,
    F16 = 1,
    /// <summary>Blocks of 32: fp16 scale + 16 bytes of nibbles (<see cref="Quantization.BlockFormats"/>).</summary>
    Q4_0 = 2,
    /// <summary>Blocks of 32: fp16 scale + 32 int8.</summary>
    Q8_0 = 8,
}

/// <summary>llama.cpp's token types (llama.h, enum llama_token_type), stored in tokenizer.ggml.token_type: the numbers
/// of SentencePiece's piece types (sentencepiece_model.proto, SentencePiece.Type), which <see cref="Tokenization.SentencePieceModelProto"/> reads with them.</summary>
public enum GgufTokenType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>A typed metadata value. Arrays hold their element type in <see cref="ElementType"/> and a CLR array in <see cref="Value"/>.</summary>
public sealed record GgufMetadataValue(GgufValueType Type, object Value, GgufValueType? ElementType = null)
{
    public string AsString() => Type == GgufValueType.String ? (string)Value : throw Mismatch("string");
    public uint AsUInt32() => Type == GgufValueType.UInt32 ? (uint)Value : throw Mismatch("uint32");
    public float AsFloat32() => Type == GgufValueType.Float32 ? (float)Value : throw Mismatch("float32");
    public bool AsBool() => Type == GgufValueType.Bool ? (bool)Value : throw Mismatch("bool");
    public T[] AsArray<T>() => Type == GgufValueType.Array && Value is T[] a ? a : throw Mismatch($"array of {typeof(T).Name}");

    private InvalidOperationException Mismatch(string wanted) =>
        new($"GGUF metadata value is {Type}{(ElementType is { } e ? $" of {e}" : "")}, not {wanted}.");
}

/// <summary>One entry of the tensor-info table. <see cref="Dimensions"/> are in ggml order (ne[0] varies fastest),
/// the reverse of a row-major PyTorch shape. <see cref="Offset"/> is relative to the start of the data section.</summary>
public sealed record GgufTensorInfo(string Name, IReadOnlyList<ulong> Dimensions, GgufTensorType Type, ulong Offset)
{
    public ulong ElementCount => Dimensions.Aggregate(1UL, (a, d) => a * d);

    public ulong ByteCount => Type switch
    {
        GgufTensorType.F32 => ElementCount * 4,
        GgufTensorType.F16 => ElementCount * 2,
        GgufTensorType.Q4_0 when Dimensions[0] % 32 == 0 => ElementCount / 32 * 18,
        GgufTensorType.Q8_0 when Dimensions[0] % 32 == 0 => ElementCount / 32 * 34,
        _ => throw new InvalidOperationException($"Tensor '{Name}' has unsupported type {Type}."),
    };

    /// <summary>The shape in PyTorch (row-major) order.</summary>
    public long[] TorchShape => Dimensions.Reverse().Select(d => (long)d).ToArray();
}
