namespace Platform.Contracts.Chat;

/// <summary>
/// OpenAI sampling fields. <see cref="Temperature"/> 0 means greedy; <see cref="Seed"/> null means random.
/// <see cref="IgnoreEos"/> (vLLM's extension) keeps generating past the model's end-of-sequence token.
/// <see cref="PresencePenalty"/>, <see cref="FrequencyPenalty"/> and <see cref="LogitBias"/> (token id to -100..100) as
/// OpenAI defines them.
/// </summary>
public sealed record SamplingParameters(float Temperature, float TopP, ulong? Seed, bool IgnoreEos = false,
    float PresencePenalty = 0f, float FrequencyPenalty = 0f, IReadOnlyDictionary<int, float>? LogitBias = null);
