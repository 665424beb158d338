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

    /// <summary>
    /// Appends the image tokens of every sequence that sampled [IMG0], before it may join a decode batch (the batch
    /// feeds one pending token per row). A sequence may sample [IMG0] again from its slot's logits; each round
    /// consumes r tokens, so this ends.
    /// </summary>
    public void AppendPending()
    {
        while (_slots.Any(Pending))
        {
            _paging.ReserveBlocks(s => Pending(s) && s.CacheLength + _tokens.Length + 1 <= _maxContextTokens ? s.CacheLength + _tokens.Length : null);
            AppendRound();
            _slots.RemoveFinished();
        }
    }

    /// <summary>
    /// One round: every sequence waiting for its image tokens is moved to the low slots (decoding sequences stay
    /// packed first, ordered by their number of words) and each run of equal word counts runs in one forward, one
    /// row each.
    /// </summary>
    private void AppendRound()
    {
        int r = _tokens.Length;
        foreach (var s in _slots)
        {
            if (!Pending(s)) continue;
            if (s.CacheLength + r + 1 > _maxContextTokens) { s.PendingImage = false; s.Finish("length"); }
        }
        _slots.RemoveFinished();
        // The words before [IMG0]: the completion since the answer's start or the last picture, without [IMG0] itself.
        int Words(Sequence s) => Math.Min(_model.ImageSlotContext, s.Completion.Count - 1 - s.ImageContextStart);
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
        for (int row = 0; row < b; row++)
        {
            var seq = rows[row];
            for (int k = 0; k < words; k++) ids[row * width + k] = seq.Completion[seq.Completion.Count - 1 - words + k];
            for (int k = 0; k < r; k++) ids[row * width + words + k] = _tokens[k];
        }
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
        int hidden = _model.Config.HiddenSize, per = width * hidden;
        var states = output.HiddenStates!.to(CPU).contiguous().data<float>().ToArray();
        var slotEmbeds = embeds.to(CPU).contiguous().data<float>().ToArray();
        var next = new List<int>();
        for (int row = 0; row < b; row++)
        {
            var seq = rows[row];
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
                Image = new ImageSlot(width, hidden, states.AsSpan(row * per, per).ToArray(), slotEmbeds.AsSpan(row * per, per).ToArray()),
            });
            if (seq.Generated >= seq.Request.MaxNewTokens) seq.Finish("length");
            else next.Add(row);
        }
        if (next.Count == 0) return;
        var logits = output.Logits!.view(b, -1);
        if (next.Count < b) logits = logits.index_select(0, tensor(next.Select(x => (long)x).ToArray(), device: _model.Device));
        _sampler.Sample(logits, next.Select(x => rows[x]).ToList());
    }
}
