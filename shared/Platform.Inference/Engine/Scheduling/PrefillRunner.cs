using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// Chunked prefill, one forward per scheduler step, so running sequences keep decoding while a long prompt joins.
/// Plain prompts that join together share the forward (one row each, padded to the longest); a prompt with sets
/// brings its own positions and mask and runs alone. A prompt's last chunk samples its first token (a preempted
/// sequence's recompute samples nothing: it goes on with the token it had). Sequences waiting for their GILL image
/// tokens may ride along in the same forward (<see cref="ImageSlots"/>): on a small model a forward's cost is mostly
/// its per-op overhead, and with clients arriving spread out a step that prefills one prompt and appends another
/// request's image tokens would otherwise run two forwards of a few tokens each.
/// </summary>
internal sealed class PrefillRunner
{
    private readonly LoadedModel _model;
    private readonly KvCache _cache;
    private readonly ActiveSlots _slots;
    private readonly KvPaging _paging;
    private readonly StepSampler _sampler;
    private readonly ImageSlots _images;
    private readonly EngineCounters _counters;
    private readonly int _chunkTokens, _maxContextTokens;

    public PrefillRunner(LoadedModel model, KvCache cache, ActiveSlots slots, KvPaging paging, StepSampler sampler, ImageSlots images,
        EngineCounters counters, int chunkTokens, int maxContextTokens)
    {
        _model = model;
        _cache = cache;
        _slots = slots;
        _paging = paging;
        _sampler = sampler;
        _images = images;
        _counters = counters;
        _chunkTokens = chunkTokens;
        _maxContextTokens = maxContextTokens;
    }

    /// <summary>
    /// Prefills the next chunk of the first prefilling sequence (slot <paramref name="first"/>) and, when that chunk
    /// ends its prompt, the whole prompts of the prefilling sequences after it, in one forward: row b is slot
    /// first+b, rows shorter than the longest are padded at the end. The padding's cache entries lie past the row's
    /// length, where no real token attends (the mask is causal over cache indices) and the row's next token overwrites
    /// them. Rows are added while rows x longest stays within <see cref="EngineOptions.PrefillChunkTokens"/>.
    /// With <paramref name="withImages"/> (the waiting image rows hold their KV blocks: <see cref="ImageSlots.Reserve"/>)
    /// the sequences waiting for their image tokens join as the first rows, moved to the slots just below
    /// <paramref name="first"/>, when the joined forward's padded size stays within twice its real tokens and every row
    /// fits the context; otherwise they wait for <see cref="ImageSlots.AppendPending"/> as before.
    /// </summary>
    public void Chunk(int first, bool withImages = false)
    {
        var head = _slots[first];
        if (head.Layout is not null) { SetChunk(head); return; }
        using var scope = NewDisposeScope();
        int headTokens = Math.Min(_chunkTokens, head.PrefillTokens.Length - head.Prefilled);
        var rows = new List<(Sequence Seq, int Tokens)> { (head, headTokens) };
        int width = headTokens;
        if (head.Prefilled + headTokens == head.PrefillTokens.Length)
        {
            for (int i = first + 1; i < _slots.Count; i++)
            {
                var s = _slots[i];
                if (s.Layout is not null) break;
                int n = s.PrefillTokens.Length - s.Prefilled, w = Math.Max(width, n);
                if ((long)w * (rows.Count + 1) > _chunkTokens) break;
                if (s.CacheLength + w > _maxContextTokens || rows.Any(r => r.Seq.CacheLength + w > _maxContextTokens)) break;
                rows.Add((s, n));
                width = w;
            }
        }
        var images = withImages ? JoiningImages(rows, ref width) : [];
        if (images.Count > 0) _images.PlaceBefore(first, images);
        int p = images.Count, b = p + rows.Count, r = _images.Tokens;
        var words = images.Select(_images.Words).ToArray();
        var ids = new long[b * width];
        var starts = new long[b];
        var lengths = new long[b];
        var logitAt = new long[b];
        for (int row = 0; row < p; row++)
        {
            _images.FillRow(images[row], words[row], ids.AsSpan(row * width, width));
            starts[row] = images[row].CacheLength - words[row];
            lengths[row] = words[row] + r;
            logitAt[row] = lengths[row] - 1;
        }
        for (int k = 0; k < rows.Count; k++)
        {
            var (seq, n) = rows[k];
            int row = p + k;
            starts[row] = seq.CacheLength;
            lengths[row] = n;
            logitAt[row] = n - 1;
            for (int t = 0; t < width; t++) ids[row * width + t] = seq.PrefillTokens[seq.Prefilled + Math.Min(t, n - 1)];
        }
        var idTensor = tensor(ids, device: _model.Device).view(b, width);
        // Image rows report their input embeddings, so a joined forward embeds every row here.
        Tensor? embeds = p > 0 ? _model.Model.EmbedTokens(idTensor).clone() : null;
        for (int k = 0; k < rows.Count; k++)
        {
            var (seq, n) = rows[k];
            if (seq.PromptEmbeddingRows is not { } given) continue;
            foreach (var (pos, values) in given)
            {
                if (pos < seq.Prefilled || pos >= seq.Prefilled + n) continue;
                embeds ??= _model.Model.EmbedTokens(idTensor).clone();
                embeds[p + k, pos - seq.Prefilled].copy_(tensor(values, device: _model.Device));
            }
        }
        var last = rows.Select(x => x.Seq.Prefilled + x.Tokens == x.Seq.PrefillTokens.Length).ToArray();
        bool logits = p > 0 || last.Any(x => x);
        // An image row of a sequence whose prompt held sets continues at position (cache index - offset), see SetLayout.
        var offsets = images.Select(s => s.PositionOffset).Concat(rows.Select(_ => 0L)).ToArray();
        bool shifted = offsets.Any(o => o != 0);
        var output = _model.Model.Forward(new LlamaInputs
        {
            // With spliced rows the ids still name each row's token (image rows for the adapter, routing by modality).
            InputIds = idTensor,
            InputsEmbeds = embeds,
            Cache = new CacheWrite { Cache = _cache, FirstSlot = first - p, Starts = starts, Lengths = lengths },
            PositionIds = shifted
                ? arange(width, device: _model.Device).view(1, width) + tensor(starts.Select((st, i) => st - offsets[i]).ToArray(), device: _model.Device).view(b, 1)
                : null,
            MaxPosition = starts.Select((st, i) => st - offsets[i]).Max() + width - 1,
            LogitPositions = logits ? tensor(logitAt, device: _model.Device).view(b, 1) : null,
            SkipLogits = !logits,
            HiddenStatePositions = p > 0 ? arange(width, device: _model.Device).view(1, width).expand(b, width) : null,
        });
        var sample = new List<int>();
        if (p > 0)
        {
            _counters.AddImageSlotsWithPrefill(p);
            int per = width * _model.Config.HiddenSize;
            var states = output.HiddenStates!.to(CPU).contiguous().data<float>().ToArray();
            var slotEmbeds = embeds!.to(CPU).contiguous().data<float>().ToArray();
            for (int row = 0; row < p; row++)
                if (_images.Complete(images[row], words[row], states.AsSpan(row * per, per), slotEmbeds.AsSpan(row * per, per))) sample.Add(row);
        }
        for (int k = 0; k < rows.Count; k++)
        {
            var (seq, n) = rows[k];
            seq.Prefilled += n;
            seq.CacheLength += n;
            _paging.RegisterPrefix(seq);
            if (!last[k]) continue;
            seq.Decoding = true;
            if (seq.EndResume()) continue;
            sample.Add(p + k);
        }
        if (sample.Count == 0) return;
        var rowLogits = output.Logits!.view(b, -1);
        if (sample.Count < b) rowLogits = rowLogits.index_select(0, tensor(sample.Select(x => (long)x).ToArray(), device: _model.Device));
        _sampler.Sample(rowLogits, sample.Select(x => x < p ? images[x] : rows[x - p].Seq).ToList());
    }

    /// <summary>
    /// The waiting image rows that join this prefill forward (all of them or none) and the joined width: they join
    /// when the padded forward holds at most twice its real tokens (beyond that, padding would cost a larger model
    /// more than the second forward it saves) and every row's start plus the width fits the context.
    /// </summary>
    private List<Sequence> JoiningImages(List<(Sequence Seq, int Tokens)> rows, ref int width)
    {
        var waiting = _images.Waiting();
        if (waiting.Count == 0) return waiting;
        int r = _images.Tokens;
        int w = Math.Max(width, waiting.Max(s => _images.Words(s)) + r);
        long real = rows.Sum(x => (long)x.Tokens) + waiting.Sum(s => (long)_images.Words(s) + r);
        if ((long)(rows.Count + waiting.Count) * w > 2 * real) return [];
        if (waiting.Any(s => s.CacheLength - _images.Words(s) + w > _maxContextTokens) || rows.Any(x => x.Seq.CacheLength + w > _maxContextTokens)) return [];
        width = w;
        return waiting;
    }

    /// <summary>One prefill chunk of a prompt with sets: its own positions and mask, one sequence per forward.</summary>
    private void SetChunk(Sequence seq)
    {
        using var scope = NewDisposeScope();
        int n = Math.Min(_chunkTokens, seq.PromptTokens.Length - seq.Prefilled);
        var ids = new long[n];
        for (int i = 0; i < n; i++) ids[i] = seq.PromptTokens[seq.Prefilled + i];
        var idTensor = tensor(ids, device: _model.Device).view(1, n);
        Tensor? embeds = null;
        if (seq.PromptEmbeddingRows is { } rows && rows.Keys.Any(k => k >= seq.Prefilled && k < seq.Prefilled + n))
        {
            embeds = _model.Model.EmbedTokens(idTensor).clone();
            foreach (var (pos, row) in rows)
                if (pos >= seq.Prefilled && pos < seq.Prefilled + n)
                    embeds[0, pos - seq.Prefilled].copy_(tensor(row, device: _model.Device));
        }
        bool last = seq.Prefilled + n == seq.PromptTokens.Length;
        // A prompt that ends with a set: every member's last token gives logits (see SetLayout); in this chunk, those
        // that fall in it.
        var ends = seq.Layout is { TrailingMemberEnds.Length: > 0 } tl
            ? tl.TrailingMemberEnds.Where(e => e >= seq.Prefilled && e < seq.Prefilled + n).Select(e => (long)(e - seq.Prefilled)).ToArray()
            : null;
        var output = _model.Model.Forward(new LlamaInputs
        {
            // With spliced rows the ids still name each row's token (image rows for the adapter, routing by modality).
            InputIds = idTensor,
            InputsEmbeds = embeds,
            Cache = new CacheWrite { Cache = _cache, FirstSlot = seq.Slot, Starts = [seq.CacheLength] },
            // A prompt with sets brings its own positions and mask (Set-Based Prompting); otherwise causal by cache index.
            PositionIds = seq.Layout?.ChunkPositions(seq.Prefilled, n, _model.Device),
            AttentionMask = seq.Layout?.ChunkMask(seq.Prefilled, n, _model.Device),
            MaxPosition = seq.Layout is { } l ? l.Positions.AsSpan(seq.Prefilled, n).ToArray().Max() : seq.CacheLength + n - 1,
            LogitPositions = ends is { Length: > 0 } ? tensor(ends, device: _model.Device).view(1, ends.Length)
                : last && ends is null ? tensor(new long[] { n - 1 }, device: _model.Device).view(1, 1) : null,
            SkipLogits = ends is { Length: 0 } || (ends is null && !last),
        });
        seq.Prefilled += n;
        seq.CacheLength += n;
        if (ends is { Length: > 0 })
            for (int k = 0; k < ends.Length; k++) seq.TrailingLogits.Add(output.Logits![0, k].unsqueeze(0).DetachFromDisposeScope());
        if (!last) return;
        seq.Decoding = true;
        var logits = output.Logits!;
        if (seq.TrailingLogits.Count > 0)
        {
            // Mean over the members in canonical cache order (bitwise the same for any client order).
            logits = stack(seq.TrailingLogits, 0).mean([0]).view(1, 1, -1);
            foreach (var t in seq.TrailingLogits) t.Dispose();
            seq.TrailingLogits.Clear();
        }
        _sampler.Sample(logits, [seq]);
    }
}
