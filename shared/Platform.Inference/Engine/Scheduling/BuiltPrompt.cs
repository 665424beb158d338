namespace Platform.Inference.Engine.Scheduling;

/// <summary>A request's prompt as the scheduler runs it: token ids, visual rows by position (or null), whether it was
/// rendered by the chat template, and the layout of a prompt with sets (or null).</summary>
internal sealed record BuiltPrompt(int[] Tokens, IReadOnlyDictionary<int, float[]>? Rows, bool IsChat, SetLayout? Layout);
