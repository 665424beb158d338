using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.OpenAi;

/// <summary>"stop": "x" or ["x", "y"] (OpenAI accepts both).</summary>
public sealed class StopSequencesConverter : JsonConverter<List<string>>
{
    public override List<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.String => [reader.GetString()!],
            JsonTokenType.StartArray => JsonSerializer.Deserialize<List<string>>(ref reader, options),
            _ => throw new JsonException("'stop' must be a string or an array of strings."),
        };

    public override void Write(Utf8JsonWriter writer, List<string> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, options);
}

/// <summary>"content": "text" or [{"type":"text",...},{"type":"image_url",...}].</summary>
public sealed class MessageContentConverter : JsonConverter<MessageContent>
{
    public override MessageContent? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.String => new MessageContent(reader.GetString(), null),
            JsonTokenType.StartArray => new MessageContent(null, JsonSerializer.Deserialize<List<ContentPartDto>>(ref reader, options)),
            _ => throw new JsonException("'content' must be a string or an array of content parts."),
        };

    public override void Write(Utf8JsonWriter writer, MessageContent value, JsonSerializerOptions options)
    {
        if (value.Parts is null) writer.WriteStringValue(value.Text);
        else JsonSerializer.Serialize(writer, value.Parts, options);
    }
}
