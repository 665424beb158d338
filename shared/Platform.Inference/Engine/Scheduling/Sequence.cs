using System.Threading.Channels;
using Platform.Inference.Generation;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>One request inside the scheduler: its prompt, cache slot, sampling state and output channel.</summary>
internal sealed class Sequence
{
    public required GenerationRequest Request { get; init; }
    public required int[] PromptTokens { get; init; }
    /// <summary>Visual embedding rows by prompt position (GILL/LLaVA-style input images), or null.</summary>
    public IReadOnlyDictionary<int, float[]>? PromptEmbeddingRows { get; init; }
    /// <summary>Positions and mask of a prompt with sets; null for a plain causal prompt.</summary>
    public SetLayout? Layout { get; init; }
    /// <summary>Cache index minus rotary position of generated tokens (non-zero only after a set).</summary>
    public long PositionOffset => Layout?.PositionOffset ?? 0;
    /// <summary>Logits [1, vocab] of the members' last tokens of a trailing set, gathered over prefill chunks.</summary>
    public List<TorchSharp.torch.Tensor> TrailingLogits { get; } = new();
    public required SamplingState Sampling { get; init; }
    public required TextStreamAssembler Text { get; init; }
    public required HashSet<int> StopTokens { get; init; }
    public required CancellationToken Cancellation { get; init; }
    public Channel<GenerationUpdate> Output { get; } = Channel.CreateUnbounded<GenerationUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public int Slot { get; set; } = -1;
    /// <summary>Tokens in the KV cache for this sequence.</summary>
    public int CacheLength { get; set; }
    /// <summary>Prompt tokens already prefilled.</summary>
    public int Prefilled { get; set; }
    public bool Decoding { get; set; }
    /// <summary>The sampled token to feed at the next decode step.</summary>
    public int PendingToken { get; set; }
    /// <summary>Set when [IMG0] was sampled and the remaining image tokens must be appended.</summary>
    public bool PendingImage { get; set; }
    public int Generated { get; set; }
    /// <summary>Index in <see cref="Completion"/> where the words before the next picture begin (after the last [IMG] run).</summary>
    public int ImageContextStart { get; set; }
    public bool Finished { get; set; }
    public List<int> Completion { get; } = new();

    public bool IsPrefillDone => Prefilled >= PromptTokens.Length;

    /// <summary>After a preemption of a decoding sequence (its KV blocks given back): the tokens to recompute, the
    /// prompt then the completion but its pending token; null otherwise.</summary>
    public int[]? ResumeTokens { get; set; }
    /// <summary>Ends the recompute of a preempted decoding sequence, which decodes on with its pending token (nothing is
    /// sampled from that prefill); false for a sequence prefilling its prompt for the first time.</summary>
    public bool EndResume()
    {
        if (ResumeTokens is null) return false;
        ResumeTokens = null;
        return true;
    }

    /// <summary>The tokens the next prefill runs over (cache index 0 onwards).</summary>
    public int[] PrefillTokens => ResumeTokens ?? PromptTokens;
    /// <summary>Times the scheduler took this sequence's KV blocks back to let others run.</summary>
    public int Preemptions { get; set; }
    /// <summary>Leading prompt tokens taken from the prefix cache at the last admission.</summary>
    public int CachedPrefixTokens { get; set; }
    /// <summary>Prompt tokens served from the prefix cache when the sequence was first admitted (what usage reports;
    /// a recompute after a preemption does not change it).</summary>
    public int CachedPromptTokens { get; set; }
    /// <summary>True when the prompt is plain token ids from index 0 (no spliced image rows, no set positions), so
    /// its full blocks may be shared through the prefix cache.</summary>
    public bool HasPlainTokens => PromptEmbeddingRows is null && Layout is null;

    public void Emit(GenerationUpdate update) => Output.Writer.TryWrite(update);

    public string? FinishReason { get; private set; }
    public long StartedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    public void Finish(string reason)
    {
        if (Finished) return;
        Finished = true;
        FinishReason = reason;
        var tail = Text.Flush();
        Output.Writer.TryWrite(new GenerationUpdate
        {
            TextDelta = tail, FinishReason = reason, PromptTokens = PromptTokens.Length, CompletionTokens = Generated,
            CachedPromptTokens = CachedPromptTokens,
        });
        Output.Writer.TryComplete();
    }

    public void Fail(Exception e)
    {
        if (Finished) return;
        Finished = true;
        FinishReason = "error";
        Output.Writer.TryComplete(e);
    }
}
