namespace Platform.Contracts.Chat;

/// <summary>One of the most likely tokens at a step: its bytes and log-probability.</summary>
public sealed record AlternativeTokenLogprob(byte[] Bytes, float Logprob);
