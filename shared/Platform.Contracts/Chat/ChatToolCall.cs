namespace Platform.Contracts.Chat;

/// <summary>A function call: in an assistant turn of the history, or made by the model (then in the last chunk). <see cref="Arguments"/> is JSON text.</summary>
public sealed record ChatToolCall(string Id, string Name, string Arguments);
