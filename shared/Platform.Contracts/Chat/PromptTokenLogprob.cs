namespace Platform.Contracts.Chat;

/// <summary>A prompt token's bytes, its log-probability given the tokens before it and the most likely alternatives
/// there; <see cref="Logprob"/> and <see cref="Top"/> are null for the first token, which nothing predicts.</summary>
public sealed record PromptTokenLogprob(byte[] Bytes, float? Logprob, IReadOnlyList<AlternativeTokenLogprob>? Top);
