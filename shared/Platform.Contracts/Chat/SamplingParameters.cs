namespace Platform.Contracts.Chat;

/// <summary>
/// OpenAI sampling fields. <see cref="Temperature"/> 0 means greedy; <see cref="Seed"/> null means random.
/// <see cref="IgnoreEos"/> (vLLM's extension) keeps generating past the model's end-of-sequence token.
/// </summary>
public sealed record SamplingParameters(float Temperature, float TopP, ulong? Seed, bool IgnoreEos = false);
