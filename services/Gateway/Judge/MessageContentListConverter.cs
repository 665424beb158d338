using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.OpenAi;

namespace Gateway.Judge;

/// <summary>An array whose items are OpenAI content unions (a string or content parts); null items stay null.</summary>
public sealed class MessageContentListConverter : JsonConverter<List<MessageContent?>>
{
    private static readonly MessageContentConverter Item = new();

    public override List<MessageContent?>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("'responses' must be an array.");
        var list = new List<MessageContent?>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            list.Add(reader.TokenType == JsonTokenType.Null ? null : Item.Read(ref reader, typeof(MessageContent), options));
        return list;
    }

    public override void Write(Utf8JsonWriter writer, List<MessageContent?> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var v in value)
            if (v is null) writer.WriteNullValue();
            else Item.Write(writer, v, options);
        writer.WriteEndArray();
    }
}
