using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// Chunked prefill, one forward per scheduler step, so running sequences keep decoding while a long prompt joins.
/// Plain prompts that join together share the forward (one row each, padded to the longest); a prompt with sets
/// brings its own positions and mask and runs alone. A prompt's last chunk samples its first token (a preempted
/// sequence's recompute samples nothing: it goes on with the token it had).
/// </summary>
internal sealed class PrefillRunner
{
    private readonly LoadedModel _model;
    private readonly KvCache _cache;
    private readonly ActiveSlots _slots;
    private readonly KvPaging _paging;
    private readonly StepSampler _sampler;
    private readonly int _chunkTokens, _maxContextTokens;

    public PrefillRunner(LoadedModel model, KvCache cache, ActiveSlots slots, KvPaging paging, StepSampler sampler, int chunkTokens, int maxContextTokens)
    {
        _model = model;
        _cache = cache;
        _slots = slots;
        _paging = paging;
        _sampler = sampler;
        _chunkTokens = chunkTokens;
        _maxContextTokens = maxContextTokens;
    }

    /// <summary>
    /// Prefills the next chunk of the first prefilling sequence (slot <paramref name="first"/>) and, when that chunk
    /// ends its prompt, the whole prompts of the prefilling sequences after it, in one forward: row b is slot
    /// first+b, rows shorter than the longest are padded at the end. The padding's cache entries lie past the row's
    /// length, where no real token attends (the mask is causal over cache indices) and the row's next token overwrites
    /// them. Rows are added while rows x longest stays within <see cref="EngineOptions.PrefillChunkTokens"/>.
    /// </summary>
    public void Chunk(int first)
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
        int b = rows.Count;
        var ids = new long[b * width];
        var starts = new long[b];
        for (int row = 0; row < b; row++)
        {
            var (seq, n) = rows[row];
            starts[row] = seq.CacheLength;
            for (int t = 0; t < width; t++) ids[row * width + t] = seq.PrefillTokens[seq.Prefilled + Math.Min(t, n - 1)];
        }
        var idTensor = tensor(ids, device: _model.Device).view(b, width);
        Tensor? embeds = null;
        for (int row = 0; row < b; row++)
        {
            var (seq, n) = rows[row];
            if (seq.PromptEmbeddingRows is not { } given) continue;
            foreach (var (pos, values) in given)
            {
                if (pos < seq.Prefilled || pos >= seq.Prefilled + n) continue;
                embeds ??= _model.Model.EmbedTokens(idTensor).clone();
                embeds[row, pos - seq.Prefilled].copy_(tensor(values, device: _model.Device));
            }
        }
        var last = rows.Select(r => r.Seq.Prefilled + r.Tokens == r.Seq.PrefillTokens.Length).ToArray();
        var output = _model.Model.Forward(new LlamaInputs
        {
            // With spliced rows the ids still name each row's token (image rows for the adapter, routing by modality).
            InputIds = idTensor,
            InputsEmbeds = embeds,
            Cache = new CacheWrite { Cache = _cache, FirstSlot = first, Starts = starts, Lengths = rows.Select(r => (long)r.Tokens).ToArray() },
            MaxPosition = starts.Max() + width - 1,
            LogitPositions = last.Any(x => x) ? tensor(rows.Select(r => (long)r.Tokens - 1).ToArray(), device: _model.Device).view(b, 1) : null,
            SkipLogits = !last.Any(x => x),
        });
        var done = new List<int>();
        for (int row = 0; row < b; row++)
        {
            var (seq, n) = rows[row];
            seq.Prefilled += n;
            seq.CacheLength += n;
            _paging.RegisterPrefix(seq);
            if (!last[row]) continue;
            seq.Decoding = true;
            if (seq.EndResume()) continue;
            done.Add(row);
        }
        if (done.Count == 0) return;
        var logits = output.Logits!.view(b, -1);
        if (done.Count < b) logits = logits.index_select(0, tensor(done.Select(r => (long)r).ToArray(), device: _model.Device));
        _sampler.Sample(logits, done.Select(r => rows[r].Seq).ToList());
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
