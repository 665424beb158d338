namespace Platform.Contracts.Chat;

/// <summary>A function offered to the model (OpenAI's tools[].function); <see cref="ParametersJson"/> is its JSON schema text.</summary>
public sealed record ChatTool(string Name, string? Description, string? ParametersJson, bool Strict);
