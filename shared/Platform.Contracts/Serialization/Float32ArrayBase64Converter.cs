using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Contracts.Serialization;

/// <summary>
/// A float[] on the bus as one base64 string of its little-endian float32 bytes, bit for bit (NaN payloads and -0
/// included). Reads that string, and also a JSON array of numbers (what a sender without this converter writes).
/// </summary>
/// <remarks>
/// Why: MassTransit serializes every message with System.Text.Json, on the in-memory transport too, and a receive
/// parses the body twice (into a JsonElement, then into the message type). An [IMG] slot carries two arrays of up to
/// (mapper context + r) x hidden floats; as decimal text, formatting and parsing them was the largest CPU cost of an
/// image request after the forwards themselves (perf of `Platform.Bench multimodal`, 8 clients). Base64 is 5.3 bytes
/// per float instead of about 11, and is copied, not formatted.
/// </remarks>
public sealed class Float32ArrayBase64Converter : JsonConverter<float[]>
{
    public override float[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                byte[] bytes;
                try { bytes = reader.GetBytesFromBase64(); }
                catch (FormatException e) { throw new JsonException("a float32 array must be base64 text", e); }
                if (bytes.Length % sizeof(float) != 0)
                    throw new JsonException($"a float32 array's base64 holds {bytes.Length} bytes, not a multiple of {sizeof(float)}");
                var values = new float[bytes.Length / sizeof(float)];
                var target = MemoryMarshal.AsBytes(values.AsSpan());
                bytes.CopyTo(target);
                if (!BitConverter.IsLittleEndian) ReverseEach(target);
                return values;
            case JsonTokenType.StartArray:
                var list = new List<float>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number) throw new JsonException($"a float32 array holds a {reader.TokenType}");
                    list.Add(reader.GetSingle());
                }
                return list.ToArray();
            default:
                throw new JsonException($"a float32 array must be base64 text or an array of numbers, not {reader.TokenType}");
        }
    }

    public override void Write(Utf8JsonWriter writer, float[] value, JsonSerializerOptions options)
    {
        var bytes = MemoryMarshal.AsBytes(value.AsSpan());
        if (BitConverter.IsLittleEndian)
        {
            writer.WriteBase64StringValue(bytes);
            return;
        }
        var copy = bytes.ToArray();
        ReverseEach(copy);
        writer.WriteBase64StringValue(copy);
    }

    private static void ReverseEach(Span<byte> bytes)
    {
        var words = MemoryMarshal.Cast<byte, int>(bytes);
        for (int i = 0; i < words.Length; i++) words[i] = BinaryPrimitives.ReverseEndianness(words[i]);
    }
}
