namespace Platform.Inference.Engine;

/// <summary>
/// One streamed step (or a few coalesced steps) of a sequence. <see cref="TextDelta"/> holds only complete
/// UTF-8 characters; bytes of a character split across tokens are held back until it completes.
/// </summary>
public sealed record GenerationUpdate
{
    public string TextDelta { get; init; } = "";
    public IReadOnlyList<int> TokenIds { get; init; } = [];
    /// <summary>"stop", "length" or "cancelled"; null while generating.</summary>
    public string? FinishReason { get; init; }
    public int PromptTokens { get; init; }
    /// <summary>Of <see cref="PromptTokens"/>, those served from the prefix cache instead of prefilled (whole KV blocks,
    /// so a multiple of the block size); set on the last update.</summary>
    public int CachedPromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    /// <summary>Set when the model produced a GILL image slot at this point of the text.</summary>
    public ImageSlot? Image { get; init; }
    /// <summary>Set on the update of the step that generated an image-token model's end-of-image token: the picture's
    /// codes. A run stopped inside a picture (length, cancellation) gives none.</summary>
    public GeneratedPicture? Picture { get; init; }
    /// <summary>With <see cref="GenerationRequest.ReturnLogits"/>: the logits row the (first) token of this update was chosen from.</summary>
    public float[]? Logits { get; init; }
    /// <summary>With <see cref="GenerationRequest.Logprobs"/>: one entry per token of <see cref="TokenIds"/>.</summary>
    public IReadOnlyList<TokenLogprob>? Logprobs { get; init; }
    /// <summary>Function calls read out of the completion (set by a tool-call reader on the last update, never by the engine).</summary>
    public IReadOnlyList<Chat.ToolCall>? ToolCalls { get; init; }
}

/// <summary>GILL [IMG0..r-1] outputs: last-layer hidden states and input embeddings, row-major [Tokens, Hidden].</summary>
public sealed record ImageSlot(int Tokens, int Hidden, float[] HiddenStates, float[] InputEmbeddings);

public sealed record EngineStats(int Running, int Waiting, long PromptTokensTotal, long GenerationTokensTotal)
{
    /// <summary>Fraction of the KV cache's block bound referenced by running sequences (0..1).</summary>
    public double KvCacheUsage { get; init; }
    /// <summary>Prompt tokens looked up in the prefix cache, and those served from it (not prefilled).</summary>
    public long PrefixCacheQueryTokens { get; init; }
    public long PrefixCacheHitTokens { get; init; }
    /// <summary>Sequences whose KV blocks were taken back (recomputed later) because the cache was full.</summary>
    public long Preemptions { get; init; }
    /// <summary>GILL image slots whose tokens were appended in the same forward as a joining prompt's prefill, not in
    /// one of their own.</summary>
    public long ImageSlotsWithPrefill { get; init; }
}

public sealed class EngineFullException(string message) : Exception(message);

public sealed class ContextLengthExceededException(string message) : Exception(message);

/// <summary>A model folder that cannot be loaded; the message names the file and the problem.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
