namespace Platform.Inference.Engine;

/// <summary>How an embedding pools a sequence's hidden states: the last token's (decoder embedding models such as
/// E5-Mistral and GTE-Qwen) or the mean over all tokens (sentence-transformers' mean pooling).</summary>
public enum EmbeddingPooling
{
    LastToken,
    Mean,
}
