using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Platform.Inference.Tokenization;
using static TorchSharp.torch;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// GILL's image slots (Koh et al. 2023): after [IMG0] is sampled, [IMG1..IMG(r-1)] are appended in one forward and the
/// r positions' last decoder layer outputs, taken before the final RMSNorm (HF's hidden_states[-1] is taken after it;
/// the mapper is trained on the pre-norm states, <see cref="LlamaInputs.HiddenStatePositions"/>), plus their input
/// embeddings are reported for the image mapper. With an image slot context (<see cref="LoadedModel.ImageSlotContext"/>)
/// the slot also carries the same for up to that many generated words before [IMG0] (back to the answer's start or the
/// previous picture): those words are fed again in the same forward, writing the cache entries they already hold, to
/// get their hidden states (the span decode path that generated them computes no hidden states).
/// </summary>
internal sealed class ImageSlots
{
    private readonly LoadedModel _model;
    private readonly KvCache _cache;
    private readonly ActiveSlots _slots;
    private readonly KvPaging _paging;
    private readonly StepSampler _sampler;
    private readonly EngineCounters _counters;
    private readonly int[] _tokens;
    private readonly int _maxContextTokens;

    public ImageSlots(LoadedModel model, KvCache cache, ActiveSlots slots, KvPaging paging, StepSampler sampler, EngineCounters counters, int[] tokens, int maxContextTokens)
    {
        _model = model;
        _cache = cache;
        _slots = slots;
        _paging = paging;
        _sampler = sampler;
        _counters = counters;
        _tokens = tokens;
        _maxContextTokens = maxContextTokens;
    }

    /// <summary>The ids of [IMG0], [IMG1], ... in the vocabulary (up to the first missing one); empty without them.</summary>
    public static int[] FindTokens(TextTokenizer tok)
    {
        var ids = new List<int>();
        for (int k = 0; tok.TokenToId($"[IMG{k}]") is int id; k++) ids.Add(id);
        return ids.ToArray();
    }

    private static bool Pending(Sequence s) => s.Decoding && s.PendingImage && !s.Finished;

    /// <summary>Image tokens per slot (r).</summary>
    public int Tokens => _tokens.Length;

    /// <summary>Whether some sequence waits for its image tokens.</summary>
    public bool AnyPending => _slots.Any(Pending);

    /// <summary>
    /// Whether image rows may share a forward with prefill rows (<see cref="PrefillRunner"/>): that forward passes
    /// token ids beside the input embeddings, which an image-token adapter or a routing recorder would read (image
    /// rows by id, wider logits), while this class's own forwards pass embeddings only. Dense models without an
    /// adapter ignore the ids when embeddings are given, so the joined forward computes what the separate ones do.
    /// </summary>
    public bool CanJoinPrefill => _model.Model.ImageAdapter is null && _model.Routing is null;

    /// <summary>
    /// Appends the image tokens of every sequence that sampled [IMG0], before it may join a decode batch (the batch
    /// feeds one pending token per row). A sequence may sample [IMG0] again from its slot's logits; each round
    /// consumes r tokens, so this ends.
    /// </summary>
    public void AppendPending()
    {
        while (_slots.Any(Pending))
        {
            Reserve();
            AppendRound();
            _slots.RemoveFinished();
        }
    }

    /// <summary>
    /// Gives every waiting sequence the KV blocks for its image tokens (preempting from the last slot while the pool is
    /// exhausted) and ends with "length" those whose tokens and one more would pass the context; finished sequences
    /// leave, so slots may move.
    /// </summary>
    public void Reserve()
    {
        int r = _tokens.Length;
        _paging.ReserveBlocks(s => Pending(s) && s.CacheLength + r + 1 <= _maxContextTokens ? s.CacheLength + r : null);
        foreach (var s in _slots)
        {
            if (!Pending(s)) continue;
            if (s.CacheLength + r + 1 > _maxContextTokens) { s.PendingImage = false; s.Finish("length"); }
        }
        _slots.RemoveFinished();
    }

    /// <summary>The sequences waiting for their image tokens (after <see cref="Reserve"/>), in slot order.</summary>
    public List<Sequence> Waiting() => _slots.Where(Pending).ToList();

    /// <summary>Moves <paramref name="rows"/> (decoding sequences) to the slots just below <paramref name="end"/>, the
    /// first prefilling slot, so that they and the prefill rows form one contiguous slot range; the packing holds.</summary>
    public void PlaceBefore(int end, List<Sequence> rows)
    {
        int first = end - rows.Count;
        for (int k = 0; k < rows.Count; k++)
            if (rows[k].Slot != first + k) _slots.Swap(first + k, rows[k].Slot);
    }

    /// <summary>The words before [IMG0] a slot reports: the completion since the answer's start or the last picture,
    /// without [IMG0] itself, up to the model's image slot context.</summary>
    public int Words(Sequence s) => Math.Min(_model.ImageSlotContext, s.Completion.Count - 1 - s.ImageContextStart);

    /// <summary>Writes a waiting sequence's row: its last <paramref name="words"/> words, then [IMG0..IMG(r-1)]; the
    /// rest of <paramref name="ids"/> (padding) repeats the last image token. Its cache write starts at
    /// CacheLength - words (the words' entries are written again, with the values they hold).</summary>
    public void FillRow(Sequence seq, int words, Span<long> ids)
    {
        for (int k = 0; k < words; k++) ids[k] = seq.Completion[seq.Completion.Count - 1 - words + k];
        for (int k = 0; k < _tokens.Length; k++) ids[words + k] = _tokens[k];
        ids[(words + _tokens.Length)..].Fill(_tokens[^1]);
    }

    /// <summary>
    /// Ends a sequence's image tokens after the forward that appended them: reports the slot (last-layer states and
    /// input embeddings of its words and image tokens, [words + r, hidden] each) and advances the sequence. True when
    /// it goes on and its next token is to be sampled from the logits at its last image token.
    /// </summary>
    public bool Complete(Sequence seq, int words, ReadOnlySpan<float> states, ReadOnlySpan<float> embeds)
    {
        int r = _tokens.Length, hidden = _model.Config.HiddenSize, per = (words + r) * hidden;
        seq.PendingImage = false;
        seq.CacheLength += r;
        seq.Generated += r - 1;
        _counters.AddGenerationTokens(r - 1);
        for (int k = 1; k < r; k++) seq.Completion.Add(_tokens[k]);
        seq.ImageContextStart = seq.Completion.Count;
        seq.Emit(new GenerationUpdate
        {
            TokenIds = _tokens,
            PromptTokens = seq.PromptTokens.Length,
            CompletionTokens = seq.Generated,
            Image = new ImageSlot(words + r, hidden, states[..per].ToArray(), embeds[..per].ToArray()),
        });
        if (seq.Generated < seq.Request.MaxNewTokens) return true;
        seq.Finish("length");
        return false;
    }

    /// <summary>
    /// One round: every sequence waiting for its image tokens is moved to the low slots (decoding sequences stay
    /// packed first, ordered by their number of words) and each run of equal word counts runs in one forward, one
    /// row each.
    /// </summary>
    private void AppendRound()
    {
        var pending = _slots.Where(Pending).OrderBy(Words).ToList();
        for (int b = 0; b < pending.Count; b++)
            if (pending[b].Slot != b) _slots.Swap(b, pending[b].Slot);
        for (int first = 0; first < pending.Count;)
        {
            int words = Words(pending[first]), end = first;
            while (end < pending.Count && Words(pending[end]) == words) end++;
            Append(first, pending.GetRange(first, end - first), words);
            first = end;
        }
    }

    /// <summary>One forward for the image tokens of <paramref name="rows"/> (slots first.., each with
    /// <paramref name="words"/> words before its [IMG0]).</summary>
    private void Append(int first, List<Sequence> rows, int words)
    {
        using var scope = NewDisposeScope();
        int r = _tokens.Length, b = rows.Count, width = words + r;
        var ids = new long[b * width];
        for (int row = 0; row < b; row++) FillRow(rows[row], words, ids.AsSpan(row * width, width));
        var starts = rows.Select(s => (long)(s.CacheLength - words)).ToArray();
        var idTensor = tensor(ids, device: _model.Device).view(b, width);
        var embeds = _model.Model.model.embed_tokens.forward(idTensor);
        var output = _model.Model.Forward(new LlamaInputs
        {
            InputsEmbeds = embeds,
            Cache = new CacheWrite { Cache = _cache, FirstSlot = first, Starts = starts },
            // Sequences whose prompt held sets continue at position (cache index - offset), see SetLayout.
            PositionIds = rows.Any(x => x.PositionOffset != 0)
                ? (arange(width, device: _model.Device).view(1, width) + tensor(starts.Select((st, i) => st - rows[i].PositionOffset).ToArray(), device: _model.Device).view(b, 1))
                : null,
            MaxPosition = rows.Select((x, i) => starts[i] - x.PositionOffset).Max() + width - 1,
            LogitPositions = full(b, 1, width - 1, ScalarType.Int64, device: _model.Device),
            HiddenStatePositions = arange(width, device: _model.Device).view(1, width).expand(b, width),
        });
        int per = width * _model.Config.HiddenSize;
        var states = output.HiddenStates!.to(CPU).contiguous().data<float>().ToArray();
        var slotEmbeds = embeds.to(CPU).contiguous().data<float>().ToArray();
        var next = new List<int>();
        for (int row = 0; row < b; row++)
            if (Complete(rows[row], words, states.AsSpan(row * per, per), slotEmbeds.AsSpan(row * per, per))) next.Add(row);
        if (next.Count == 0) return;
        var logits = output.Logits!.view(b, -1);
        if (next.Count < b) logits = logits.index_select(0, tensor(next.Select(x => (long)x).ToArray(), device: _model.Device));
        _sampler.Sample(logits, next.Select(x => rows[x]).ToList());
    }
}
