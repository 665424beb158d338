namespace Platform.Contracts.Chat;

/// <summary>A generated token's bytes (a token may hold part of a UTF-8 character), log-probability and the most
/// likely alternatives at its step, most likely first.</summary>
public sealed record GeneratedTokenLogprob(byte[] Bytes, float Logprob, IReadOnlyList<AlternativeTokenLogprob> Top);
