namespace Platform.Contracts.Images;

/// <summary>A GILL image slot the language model produced ([IMG0]..[IMG(r-1)]): its last-layer hidden states and input
/// embeddings, row-major [Tokens, Hidden]; ImageGen maps them to a picture.</summary>
public sealed record ImageSlotStates(int Tokens, int Hidden, float[] HiddenStates, float[] InputEmbeddings);
