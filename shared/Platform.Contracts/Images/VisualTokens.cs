namespace Platform.Contracts.Images;

/// <summary>An input image as visual tokens in the language model's embedding space, row-major [Tokens, Hidden]
/// (the engine splices them at the "&lt;image&gt;" placeholders of the turn).</summary>
public sealed record VisualTokens(int Tokens, int Hidden, float[] Data);
