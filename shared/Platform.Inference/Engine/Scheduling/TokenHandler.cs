using Platform.Inference.Loading;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// What one sampled token does to its sequence: it joins the completion, then a stop token ends the sequence
/// ("stop"); an image-token model's image token adds no text (begin-of-image releases the text held back, end-of-image
/// carries the picture); GILL's [IMG0] with <see cref="GenerationRequest.ReportImageSlots"/> waits for its image
/// slot; any other token's bytes go through the text stream (a stop string ends it), and a complete grammar, the
/// token budget or the context end it. A sequence that goes on feeds the token at its next step.
/// </summary>
internal sealed class TokenHandler
{
    private readonly LoadedModel _model;
    private readonly int _maxContextTokens;
    private readonly int[] _imageSlotTokens;
    private readonly EngineCounters _counters;

    /// <param name="imageSlotTokens">GILL's [IMG0..IMG(r-1)] ids (<see cref="ImageSlots.FindTokens"/>), empty without them.</param>
    public TokenHandler(LoadedModel model, int maxContextTokens, int[] imageSlotTokens, EngineCounters counters)
    {
        _model = model;
        _maxContextTokens = maxContextTokens;
        _imageSlotTokens = imageSlotTokens;
        _counters = counters;
    }

    public void Handle(Sequence seq, int token, float[]? logits = null, TokenLogprob? logprob = null)
    {
        seq.Generated++;
        seq.Completion.Add(token);
        seq.Sampling.Observe(token);
        _counters.AddGenerationTokens(1);
        if (seq.StopTokens.Contains(token))
        {
            seq.Finish("stop");
            return;
        }
        if (_model.ImageVocabulary is { } iv && token >= iv.BaseVocabulary)
        {
            // An image token adds no text; the end-of-image token's update carries the picture. A picture ends the text
            // before it, so begin-of-image's update releases what the text stream still held (a stop string's possible
            // start, an incomplete character): it comes before the picture, as in the completion.
            seq.Emit(new GenerationUpdate
            {
                TextDelta = token == iv.BeginOfImage ? seq.Text.Flush() : "",
                TokenIds = [token], PromptTokens = seq.PromptTokens.Length, CompletionTokens = seq.Generated, Logits = logits,
                Logprobs = logprob is null ? null : [logprob], Picture = seq.Sampling.Pictures?.TakeCompleted(),
            });
            if (seq.Generated >= seq.Request.MaxNewTokens || seq.CacheLength + 1 >= _maxContextTokens) seq.Finish("length");
            else seq.PendingToken = token;
            return;
        }
        if (seq.Request.ReportImageSlots && _imageSlotTokens.Length > 0 && token == _imageSlotTokens[0])
        {
            // The image update (with all r ids) is emitted once the remaining slot tokens have run.
            seq.PendingImage = true;
            seq.PendingToken = token;
            return;
        }
        var delta = seq.Text.Append(_model.Tokenizer.TokenBytes(token));
        if (seq.Text.Stopped)
        {
            if (delta.Length > 0) seq.Emit(new GenerationUpdate { TextDelta = delta, TokenIds = [token], PromptTokens = seq.PromptTokens.Length, CompletionTokens = seq.Generated, Logits = logits, Logprobs = logprob is null ? null : [logprob] });
            seq.Finish("stop");
            return;
        }
        seq.Emit(new GenerationUpdate { TextDelta = delta, TokenIds = [token], PromptTokens = seq.PromptTokens.Length, CompletionTokens = seq.Generated, Logits = logits, Logprobs = logprob is null ? null : [logprob] });
        if (seq.Sampling.Constraint is { IsComplete: true })
        {
            seq.Finish("stop");
            return;
        }
        if (seq.Generated >= seq.Request.MaxNewTokens || seq.CacheLength + 1 >= _maxContextTokens)
        {
            seq.Finish("length");
            return;
        }
        seq.PendingToken = token;
    }
}
