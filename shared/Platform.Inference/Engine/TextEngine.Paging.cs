using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Platform.Inference.Loading;
using Platform.Inference.Models;

namespace Platform.Inference.Engine;

/// <summary>
/// The scheduler's side of the paged KV cache. A waiting sequence is admitted when the pool can give it blocks for
/// its whole prompt and first token (after taking the cached blocks of its longest known prefix: automatic prefix
/// caching, plain-token prompts only); its blocks are taken at admission, so a prefill never runs out. Decode steps
/// and image slots take a block when a sequence crosses a block boundary; when none is left, the sequence in the
/// last slot is preempted (vLLM's recompute preemption): its blocks are given back, and it waits at the head of the
/// queue to prefill its prompt and completion again, then goes on decoding with the token it had already sampled.
/// </summary>
public sealed partial class TextEngine
{
    /// <summary>Preempted sequences, readmitted before the waiting queue (the most recently preempted first). Under _gate.</summary>
    private readonly Stack<Sequence> _preempted = new();
    private long _preemptions;

    private static KvCache CreateCache(LoadedModel model, EngineOptions options, int contextTokens)
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

    /// <summary>KV blocks of the cache's bound (fixed at start).</summary>
    public int KvCacheMaxBlocks => _cache.MaxBlocks;
    /// <summary>Bytes the KV cache may grow to.</summary>
    public long KvCacheMaxBytes => _cache.MaxBlocks * _cache.BytesPerBlock;

    /// <summary>A prompt that the whole pool cannot hold (with one generated token) can never run: refused at once.</summary>
    private void CheckFitsCache(int promptTokens)
    {
        if (promptTokens + 1 > _cache.MaxPoolTokens)
            throw new ContextLengthExceededException(
                $"prompt has {promptTokens} tokens; the KV cache of model '{ModelName}' holds at most {_cache.MaxPoolTokens} tokens (Engine:KvCacheMB)");
    }

    private bool CanHold(Sequence seq) => _cache.Blocks.Available >= _cache.BlocksFor(seq.PrefillTokens.Length + 1);

    /// <summary>The next sequence to admit (preempted ones first), or null when none waits or the pool cannot take
    /// the next one yet (it keeps its place). Called under _gate.</summary>
    private Sequence? NextToAdmit()
    {
        while (_preempted.Count > 0 && _preempted.Peek().Cancellation.IsCancellationRequested) _preempted.Pop().Finish("cancelled");
        var next = _preempted.Count > 0 ? _preempted.Peek() : _waiting.Count > 0 ? _waiting.Peek() : null;
        if (next is null) return null;
        if (!CanHold(next))
        {
            if (_active.Count > 0) return null;
            // Alone it still does not fit: only a resumed sequence can get here (prompts are checked on arrival).
            (_preempted.Count > 0 ? _preempted.Pop() : _waiting.Dequeue()).Finish("length");
            return null;
        }
        return _preempted.Count > 0 ? _preempted.Pop() : _waiting.Dequeue();
    }

    /// <summary>Gives a just admitted sequence its cached prefix (when its prompt is plain tokens) and the blocks
    /// for the rest of its prefill.</summary>
    private void TakeBlocks(Sequence seq)
    {
        int hit = 0;
        if (_options.PrefixCaching && seq.HasPlainTokens) hit = _cache.AttachPrefix(seq.Slot, seq.PrefillTokens);
        else _cache.Blocks.CountLookup(seq.PrefillTokens.Length, 0);
        seq.CachedPrefixTokens = hit;
        if (seq.Preemptions == 0) seq.CachedPromptTokens = Math.Min(hit, seq.PromptTokens.Length);
        seq.Prefilled = hit;
        seq.CacheLength = hit;
        _cache.Ensure(seq.Slot, seq.PrefillTokens.Length);
        if (hit > 0) _logger.LogDebug("Request {RequestId}: {Hit} of {Tokens} prompt tokens from the prefix cache", seq.Request.RequestId, hit, seq.PrefillTokens.Length);
    }

    /// <summary>Keys the full blocks a plain prompt has prefilled so far, for later prompts with the same prefix.</summary>
    private void RegisterPrefix(Sequence seq)
    {
        if (_options.PrefixCaching && seq.HasPlainTokens) _cache.RegisterPrefix(seq.Slot, seq.PrefillTokens, seq.Prefilled);
    }

    /// <summary>Ends the recompute of a preempted decoding sequence: it decodes on with its pending token (nothing is
    /// sampled from the prefill). False for a sequence prefilling its prompt for the first time.</summary>
    private bool EndResume(Sequence seq)
    {
        if (seq.ResumeTokens is null) return false;
        seq.ResumeTokens = null;
        return true;
    }

    /// <summary>
    /// Gives each running sequence blocks for the tokens <paramref name="need"/> says it writes next (null = none),
    /// preempting from the last slot while the pool is exhausted. A sequence alone that still cannot grow has reached
    /// what the pool holds: it ends with "length".
    /// </summary>
    private void ReserveBlocks(Func<Sequence, long?> need)
    {
        for (int i = 0; i < _active.Count; i++)
        {
            var seq = _active[i];
            if (seq.Finished || need(seq) is not { } tokens) continue;
            while (!_cache.TryEnsure(i, tokens))
            {
                if (_active.Count == 1)
                {
                    seq.Finish("length");
                    break;
                }
                bool self = i == _active.Count - 1;
                Preempt();
                if (self) break;
            }
        }
    }

    /// <summary>Takes the KV blocks of the sequence in the last slot back and queues it for recompute.</summary>
    private void Preempt()
    {
        int last = _active.Count - 1;
        var seq = _active[last];
        _cache.Free(last);
        _active.RemoveAt(last);
        seq.Slot = -1;
        Interlocked.Increment(ref _preemptions);
        foreach (var t in seq.TrailingLogits) t.Dispose();
        seq.TrailingLogits.Clear();
        if (seq.Decoding && seq.Layout is not null)
        {
            // Positions after a set are not those of a plain prefill of prompt + completion: not recomputable.
            seq.Fail(new KvCacheFullException($"KV cache full (all {_cache.MaxBlocks} blocks in use): a set prompt's sequence cannot be preempted and recomputed; raise Engine:KvCacheMB"));
            lock (_gate) _runningCount = _active.Count;
            return;
        }
        if (seq.Decoding) seq.ResumeTokens = [.. seq.PromptTokens, .. seq.Completion.Take(seq.Completion.Count - 1)];
        seq.Decoding = false;
        seq.Prefilled = 0;
        seq.CacheLength = 0;
        seq.Preemptions++;
        _logger.LogDebug("Request {RequestId} preempted (KV cache full): {Tokens} tokens to recompute", seq.Request.RequestId, seq.PrefillTokens.Length);
        lock (_gate)
        {
            _preempted.Push(seq);
            _runningCount = _active.Count;
        }
    }
}
