namespace Platform.Contracts.Chat;

/// <summary>
/// OpenAI's <c>response_format</c> for constrained output: <see cref="Type"/> "json_object" (any JSON object) or
/// "json_schema" (<see cref="SchemaJson"/>, the schema as JSON text; the worker compiles it and rejects what it cannot
/// enforce). The worker enforces both by constrained decoding whatever <see cref="Strict"/> says.
/// </summary>
public sealed record ResponseFormat(string Type, string? SchemaJson = null, string? Name = null, bool Strict = false)
{
    public const string JsonObject = "json_object";
    public const string JsonSchema = "json_schema";
}
