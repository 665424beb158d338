using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Platform.Inference.Loading;
using Platform.Inference.Models;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// The scheduler's side of the paged KV cache (vLLM's PagedAttention and automatic prefix caching, Kwon et al. 2023).
/// A waiting sequence is admitted when the pool can give it blocks for its whole prompt and first token (after taking
/// the cached blocks of its longest known prefix, plain-token prompts only); its blocks are taken at admission, so a
/// prefill never runs out. Decode steps and image slots take a block when a sequence crosses a block boundary; when
/// none is left, the sequence in the last slot is preempted (vLLM's recompute preemption): its blocks are given back,
/// and it waits at the head of the queue to prefill its prompt and completion again, then goes on decoding with the
/// token it had already sampled.
/// </summary>
internal sealed class KvPaging
{
    private readonly KvCache _cache;
    private readonly bool _prefixCaching;
    private readonly ActiveSlots _slots;
    private readonly AdmissionQueue _queue;
    private readonly EngineCounters _counters;
    private readonly ILogger _logger;

    public KvPaging(KvCache cache, bool prefixCaching, ActiveSlots slots, AdmissionQueue queue, EngineCounters counters, ILogger logger)
    {
        _cache = cache;
        _prefixCaching = prefixCaching;
        _slots = slots;
        _queue = queue;
        _counters = counters;
        _logger = logger;
    }

    /// <summary>The engine's cache: <see cref="EngineOptions.KvCacheBlockTokens"/> tokens per block, bounded by
    /// KvCacheBlocks, KvCacheMB, or the default MiB, and never by more than every slot at the full context uses.</summary>
    public static KvCache CreateCache(LoadedModel model, EngineOptions options, int contextTokens)
    {
        int bs = options.KvCacheBlockTokens;
        if (bs < 8 || (bs & (bs - 1)) != 0)
            throw new ValidationException($"Engine:KvCacheBlockTokens must be a power of two of at least 8, got {bs}");
        var c = model.Config;
        long blockBytes = KvCache.BlockBytes(c.NumHiddenLayers, c.KeyValueHeads, c.HeadDimension, bs);
        long needed = (long)options.MaxConcurrentSequences * ((contextTokens + bs - 1) / bs);
        if (options.KvCacheMB > 0 && options.KvCacheBlocks > 0)
            throw new ValidationException("set Engine:KvCacheMB or Engine:KvCacheBlocks, not both");
        long bound = options.KvCacheBlocks > 0 ? options.KvCacheBlocks
            : options.KvCacheMB > 0 ? ((long)options.KvCacheMB << 20) / blockBytes
            : Math.Min(needed, ((long)EngineOptions.DefaultKvCacheMB << 20) / blockBytes);
        if (bound < 1)
            throw new ValidationException($"Engine:KvCacheMB {options.KvCacheMB} holds no KV block: one block of {bs} tokens takes {blockBytes} bytes for this model");
        // More than every slot at the full context can use is never needed.
        int blocks = (int)Math.Min(bound, Math.Min(needed, int.MaxValue - 1));
        return new KvCache(c, options.MaxConcurrentSequences, contextTokens, model.Device, bs, blocks);
    }

    /// <summary>A prompt that the whole pool cannot hold (with one generated token) can never run: refused at once.</summary>
    public static void CheckFits(KvCache cache, string modelName, int promptTokens)
    {
        if (promptTokens + 1 > cache.MaxPoolTokens)
            throw new ContextLengthExceededException(
                $"prompt has {promptTokens} tokens; the KV cache of model '{modelName}' holds at most {cache.MaxPoolTokens} tokens (Engine:KvCacheMB)");
    }

    /// <summary>Whether the free blocks hold the sequence's whole prefill and one more token.</summary>
    public bool CanHold(Sequence seq) => _cache.Blocks.Available >= _cache.BlocksFor(seq.PrefillTokens.Length + 1);

    /// <summary>Gives a just admitted sequence its cached prefix (when its prompt is plain tokens) and the blocks
    /// for the rest of its prefill.</summary>
    public void TakeBlocks(Sequence seq)
    {
        int hit = 0;
        if (_prefixCaching && seq.HasPlainTokens) hit = _cache.AttachPrefix(seq.Slot, seq.PrefillTokens);
        else _cache.Blocks.CountLookup(seq.PrefillTokens.Length, 0);
        seq.CachedPrefixTokens = hit;
        if (seq.Preemptions == 0) seq.CachedPromptTokens = Math.Min(hit, seq.PromptTokens.Length);
        seq.Prefilled = hit;
        seq.CacheLength = hit;
        _cache.Ensure(seq.Slot, seq.PrefillTokens.Length);
        if (hit > 0) _logger.LogDebug("Request {RequestId}: {Hit} of {Tokens} prompt tokens from the prefix cache", seq.Request.RequestId, hit, seq.PrefillTokens.Length);
    }

    /// <summary>Keys the full blocks a plain prompt has prefilled so far, for later prompts with the same prefix.</summary>
    public void RegisterPrefix(Sequence seq)
    {
        if (_prefixCaching && seq.HasPlainTokens) _cache.RegisterPrefix(seq.Slot, seq.PrefillTokens, seq.Prefilled);
    }

    /// <summary>
    /// Gives each running sequence blocks for the tokens <paramref name="need"/> says it writes next (null = none),
    /// preempting from the last slot while the pool is exhausted. A sequence alone that still cannot grow has reached
    /// what the pool holds: it ends with "length".
    /// </summary>
    public void ReserveBlocks(Func<Sequence, long?> need)
    {
        for (int i = 0; i < _slots.Count; i++)
        {
            var seq = _slots[i];
            if (seq.Finished || need(seq) is not { } tokens) continue;
            while (!_cache.TryEnsure(i, tokens))
            {
                if (_slots.Count == 1)
                {
                    seq.Finish("length");
                    break;
                }
                bool self = i == _slots.Count - 1;
                Preempt();
                if (self) break;
            }
        }
    }

    /// <summary>Takes the KV blocks of the sequence in the last slot back and queues it for recompute.</summary>
    private void Preempt()
    {
        var seq = _slots.RemoveLast();
        _counters.CountPreemption();
        foreach (var t in seq.TrailingLogits) t.Dispose();
        seq.TrailingLogits.Clear();
        if (seq.Decoding && seq.Layout is not null)
        {
            // Positions after a set are not those of a plain prefill of prompt + completion: not recomputable.
            seq.Fail(new KvCacheFullException($"KV cache full (all {_cache.MaxBlocks} blocks in use): a set prompt's sequence cannot be preempted and recomputed; raise Engine:KvCacheMB"));
            _queue.SetRunning(_slots.Count);
            return;
        }
        if (seq.Decoding) seq.ResumeTokens = [.. seq.PromptTokens, .. seq.Completion.Take(seq.Completion.Count - 1)];
        seq.Decoding = false;
        seq.Prefilled = 0;
        seq.CacheLength = 0;
        seq.Preemptions++;
        _logger.LogDebug("Request {RequestId} preempted (KV cache full): {Tokens} tokens to recompute", seq.Request.RequestId, seq.PrefillTokens.Length);
        _queue.Preempted(seq, _slots.Count);
    }
}
