namespace Platform.Inference.Engine;

/// <summary>
/// The contract every generating service uses: one loaded model behind a continuous-batching scheduler.
/// Implementations own the model, tokenizer, chat template and KV cache; callers only see text in, deltas out.
/// </summary>
public interface ITextEngine : IAsyncDisposable
{
    /// <summary>Name the model is served under (registry name).</summary>
    string ModelName { get; }

    /// <summary>Maximum tokens of prompt plus completion for one sequence.</summary>
    int MaxContextTokens { get; }

    /// <summary>The chat template prompts are rendered with (its family fixes the tool-call format); null when unknown.</summary>
    Chat.ChatTemplate? ChatTemplate => null;

    /// <summary>Live counters for metrics (running, waiting sequences).</summary>
    EngineStats Stats { get; }

    /// <summary>Renders and tokenizes the request's prompt; throws <see cref="ContextLengthExceededException"/> when it cannot fit.</summary>
    int CountPromptTokens(GenerationRequest request);

    /// <summary>
    /// Queues the request in the scheduler and streams its deltas. Throws <see cref="EngineFullException"/>
    /// (before the first delta) when the waiting queue is full. Cancellation is checked every decode step.
    /// The last update has a non-null <see cref="GenerationUpdate.FinishReason"/>.
    /// </summary>
    IAsyncEnumerable<GenerationUpdate> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken);
}
