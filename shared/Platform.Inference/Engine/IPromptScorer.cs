namespace Platform.Inference.Engine;

/// <summary>An engine that scores a prompt: the log-probability of each of its tokens under the model.</summary>
public interface IPromptScorer
{
    /// <summary>
    /// One entry per prompt token as <paramref name="request"/> renders it (the BOS the tokenizer adds is left out: it is
    /// not part of the text), with <paramref name="top"/> alternatives; from the raw logits (temperature 1, no penalties).
    /// </summary>
    Task<IReadOnlyList<PromptLogprob>> PromptLogprobsAsync(GenerationRequest request, int top, CancellationToken cancellationToken);
}
