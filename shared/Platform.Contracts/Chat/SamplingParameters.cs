namespace Platform.Contracts.Chat;

/// <summary>OpenAI sampling fields. <see cref="Temperature"/> 0 means greedy; <see cref="Seed"/> null means random.</summary>
public sealed record SamplingParameters(float Temperature, float TopP, ulong? Seed);
