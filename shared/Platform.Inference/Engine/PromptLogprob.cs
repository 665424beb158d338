namespace Platform.Inference.Engine;

/// <summary>A prompt token, its log-probability given the tokens before it and the most likely alternatives there;
/// null for the first token, which nothing predicts.</summary>
public sealed record PromptLogprob(int TokenId, byte[] Bytes, float? Logprob, IReadOnlyList<TopLogprob>? Top);
