using System.Collections;
using Microsoft.Extensions.Logging;
using Platform.Inference.Models;

namespace Platform.Inference.Engine.Scheduling;

/// <summary>
/// The running sequences by KV-cache slot (index = slot), kept packed: decoding sequences in [0, d), those still
/// prefilling in [d, n), so a decode batch is the contiguous slot range [0, d). Moving or swapping slots exchanges
/// block tables, not cached data.
/// </summary>
internal sealed class ActiveSlots : IReadOnlyList<Sequence>
{
    private readonly List<Sequence> _sequences = new();
    private readonly KvCache _cache;
    private readonly ILogger _logger;
    private readonly Action<int> _countChanged;

    /// <param name="countChanged">Told the running count after sequences left.</param>
    public ActiveSlots(KvCache cache, ILogger logger, Action<int> countChanged)
    {
        _cache = cache;
        _logger = logger;
        _countChanged = countChanged;
    }

    public int Count => _sequences.Count;
    public Sequence this[int slot] => _sequences[slot];
    public IEnumerator<Sequence> GetEnumerator() => _sequences.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Sequences in the decoding prefix of the packing.</summary>
    public int DecodingCount => _sequences.TakeWhile(s => s.Decoding).Count();

    /// <summary>Places an admitted sequence in the next slot (it prefills first, so the packing holds).</summary>
    public void Add(Sequence seq)
    {
        seq.Slot = _sequences.Count;
        _sequences.Add(seq);
    }

    /// <summary>Takes the sequence in the last slot out and frees its KV blocks.</summary>
    public Sequence RemoveLast()
    {
        int last = _sequences.Count - 1;
        var seq = _sequences[last];
        _cache.Free(last);
        _sequences.RemoveAt(last);
        seq.Slot = -1;
        return seq;
    }

    /// <summary>Removes finished sequences, keeping the packing: decoding [0, d), prefilling [d, n).</summary>
    public void RemoveFinished()
    {
        for (int i = _sequences.Count - 1; i >= 0; i--)
        {
            var seq = _sequences[i];
            if (!seq.Finished) continue;
            _logger.LogDebug("Request {RequestId} finished ({FinishReason}): {PromptTokens} prompt + {CompletionTokens} completion tokens in {ElapsedMs:F0} ms",
                seq.Request.RequestId, seq.FinishReason, seq.PromptTokens.Length, seq.Generated, System.Diagnostics.Stopwatch.GetElapsedTime(seq.StartedAt).TotalMilliseconds);
            _cache.Free(i);
            int hole = i;
            if (seq.Decoding)
            {
                int lastDecoding = _sequences.FindLastIndex(s => s.Decoding);
                if (lastDecoding != hole) { Move(lastDecoding, hole); hole = lastDecoding; }
            }
            int last = _sequences.Count - 1;
            if (last != hole) Move(last, hole);
            _sequences.RemoveAt(last);
        }
        _countChanged(_sequences.Count);
    }

    /// <summary>Fails every running sequence with <paramref name="error"/> (a step threw) and frees all slots.</summary>
    public void FailAll(Exception error)
    {
        foreach (var s in _sequences) s.Fail(error);
        for (int i = 0; i < _sequences.Count; i++) _cache.Free(i);
        _sequences.Clear();
    }

    /// <summary>Exchanges the cache slots (and places in the packing) of two running sequences.</summary>
    public void Swap(int a, int b)
    {
        var (sa, sb) = (_sequences[a], _sequences[b]);
        _cache.SwapSlots(a, b, sa.CacheLength, sb.CacheLength);
        (_sequences[a], _sequences[b]) = (sb, sa);
        sa.Slot = b;
        sb.Slot = a;
    }

    private void Move(int from, int to)
    {
        var s = _sequences[from];
        _cache.MoveSlot(from, to, s.CacheLength);
        s.Slot = to;
        _sequences[to] = s;
        _sequences[from] = null!;
    }
}
