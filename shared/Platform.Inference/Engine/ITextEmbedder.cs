namespace Platform.Inference.Engine;

/// <summary>An engine that also turns text into embeddings (pooled hidden states of its model).</summary>
public interface ITextEmbedder
{
    /// <summary>The full embedding length (the model's hidden size).</summary>
    int EmbeddingSize { get; }

    /// <summary>Token ids per input; throws <see cref="ContextLengthExceededException"/> or ArgumentException (empty input).</summary>
    IReadOnlyList<int[]> TokenizeForEmbedding(IReadOnlyList<string> inputs);

    /// <summary>One L2-normalised vector per input, <paramref name="dimensions"/> long when set (1..<see cref="EmbeddingSize"/>).</summary>
    Task<float[][]> EmbedAsync(IReadOnlyList<int[]> inputs, EmbeddingPooling pooling, int? dimensions, CancellationToken cancellationToken);
}
