using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.OpenAi;

/// <summary>JSON settings of OpenAI's wire format: snake_case names, nulls left out.</summary>
public static class OpenAiJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
