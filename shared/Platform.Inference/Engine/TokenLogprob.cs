namespace Platform.Inference.Engine;

/// <summary>A generated token, its log-probability and the most likely alternatives at its step (most likely first).
/// <see cref="Bytes"/> are the token's own bytes (a token may hold part of a UTF-8 character).</summary>
public sealed record TokenLogprob(int TokenId, byte[] Bytes, float Logprob, IReadOnlyList<TopLogprob> Top);

/// <summary>One alternative at a step: token id, its bytes and its log-probability.</summary>
public sealed record TopLogprob(int TokenId, byte[] Bytes, float Logprob);
