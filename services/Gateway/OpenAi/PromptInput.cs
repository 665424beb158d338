using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.OpenAi;

/// <summary>
/// OpenAI's prompt / input union (completions and embeddings): a string, an array of strings, an array of token ids,
/// or an array of token-id arrays. Exactly one of <see cref="Texts"/> and <see cref="Tokens"/> is set.
/// </summary>
[JsonConverter(typeof(PromptInputConverter))]
public sealed record PromptInput(IReadOnlyList<string>? Texts, IReadOnlyList<IReadOnlyList<int>>? Tokens)
{
    public int Count => Texts?.Count ?? Tokens!.Count;
}

public sealed class PromptInputConverter : JsonConverter<PromptInput>
{
    private const string Shape = "must be a string, an array of strings, an array of token ids or an array of token-id arrays";

    public override PromptInput? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return new PromptInput([reader.GetString()!], null);
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"The value {Shape}.");
        var texts = new List<string>();
        var ids = new List<int>();
        var lists = new List<IReadOnlyList<int>>();
        JsonTokenType? kind = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (kind is { } k && k != reader.TokenType) throw new JsonException($"The value {Shape}; its items must all have one type.");
            kind = reader.TokenType;
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    texts.Add(reader.GetString()!);
                    break;
                case JsonTokenType.Number:
                    ids.Add(reader.TryGetInt32(out var id) ? id : throw new JsonException("A token id must be an integer."));
                    break;
                case JsonTokenType.StartArray:
                    var inner = new List<int>();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var t))
                            throw new JsonException("A token-id array must hold integers only.");
                        inner.Add(t);
                    }
                    lists.Add(inner);
                    break;
                default:
                    throw new JsonException($"The value {Shape}.");
            }
        }
        return kind switch
        {
            JsonTokenType.Number => new PromptInput(null, [ids]),
            JsonTokenType.StartArray => new PromptInput(null, lists),
            _ => new PromptInput(texts, null),
        };
    }

    public override void Write(Utf8JsonWriter writer, PromptInput value, JsonSerializerOptions options)
    {
        if (value.Texts is { } t) JsonSerializer.Serialize(writer, t, options);
        else JsonSerializer.Serialize(writer, value.Tokens, options);
    }
}
