using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Platform.Inference.Models;

/// <summary>
/// The block allocator behind <see cref="KvCache"/> (vLLM's block manager, Kwon et al. 2023), with automatic prefix
/// caching (vLLM's APC): block ids 0 .. <see cref="MaxBlocks"/>-1, a reference count per block, and for full blocks of
/// plain prompt tokens a key = hash(parent key, the block's token ids). A block whose count drops to zero keeps its
/// key and waits in an LRU list; a later prompt that starts with the same blocks takes them back
/// (<see cref="Acquire"/>), and allocation evicts the least recently released one only when no block is free and the
/// pool cannot grow. Pure bookkeeping: the tensors are <see cref="KvCache"/>'s. Not thread-safe (the scheduler
/// thread owns it); the counters are read from other threads.
/// </summary>
public sealed class KvBlocks
{
    private readonly int[] _refs;
    private readonly UInt128[] _keys;
    private readonly bool[] _keyed;
    private readonly int[][] _tokens;
    private readonly LinkedListNode<int>?[] _lruNodes;
    private readonly LinkedList<int> _lru = new();
    private readonly Stack<int> _free = new();
    private readonly Dictionary<UInt128, int> _byKey = new();
    private readonly Func<int, int> _grow;
    private long _queries, _hits, _evictions;
    private int _inUse;

    /// <param name="maxBlocks">The pool's bound.</param>
    /// <param name="blockTokens">Tokens per block.</param>
    /// <param name="initialBlocks">Blocks the pool holds at start.</param>
    /// <param name="grow">Called with the blocks wanted (more than held now, at most <paramref name="maxBlocks"/>);
    /// makes the pool hold at least that many and returns how many it holds.</param>
    public KvBlocks(int maxBlocks, int blockTokens, int initialBlocks, Func<int, int> grow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBlocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockTokens, 1);
        MaxBlocks = maxBlocks;
        BlockTokens = blockTokens;
        _grow = grow;
        _refs = new int[maxBlocks];
        _keys = new UInt128[maxBlocks];
        _keyed = new bool[maxBlocks];
        _tokens = new int[maxBlocks][];
        _lruNodes = new LinkedListNode<int>?[maxBlocks];
        Held = Math.Clamp(initialBlocks, 1, maxBlocks);
        for (int i = Held - 1; i >= 0; i--) _free.Push(i);
    }

    public int MaxBlocks { get; }
    public int BlockTokens { get; }
    /// <summary>Blocks the pool holds now (allocated memory).</summary>
    public int Held { get; private set; }
    /// <summary>Blocks referenced by at least one sequence.</summary>
    public int InUse => Volatile.Read(ref _inUse);
    /// <summary>Blocks no sequence references that keep a prefix for reuse (evictable).</summary>
    public int Cached => _lru.Count;
    /// <summary>Blocks a sequence could still get: free, evictable, or not yet allocated under the bound.</summary>
    public int Available => MaxBlocks - _inUse;
    /// <summary>Prompt tokens looked up in the prefix cache, and those found (vLLM counts tokens too).</summary>
    public long PrefixQueryTokens => Interlocked.Read(ref _queries);
    public long PrefixHitTokens => Interlocked.Read(ref _hits);
    public long Evictions => Interlocked.Read(ref _evictions);
    public int RefCount(int block) => _refs[block];

    /// <summary>A new block (count 1, no key), or -1 when all <see cref="MaxBlocks"/> are referenced.</summary>
    public int Allocate()
    {
        if (_free.Count == 0 && Held < MaxBlocks)
        {
            int held = _grow(Math.Min(MaxBlocks, Math.Max(Held + 1, 2 * Held)));
            for (int i = held - 1; i >= Held; i--) _free.Push(i);
            Held = held;
        }
        int block;
        if (_free.Count > 0) block = _free.Pop();
        else if (_lru.First is { } oldest)
        {
            block = oldest.Value;
            RemoveFromLru(block);
            Unkey(block);
            Interlocked.Increment(ref _evictions);
        }
        else return -1;
        _refs[block] = 1;
        Interlocked.Increment(ref _inUse);
        return block;
    }

    /// <summary>Drops one reference; at zero a keyed block goes to the LRU list, an unkeyed one is free.</summary>
    public void Release(int block)
    {
        if (_refs[block] <= 0) throw new InvalidOperationException($"block {block} released more often than taken");
        if (--_refs[block] > 0) return;
        Interlocked.Decrement(ref _inUse);
        if (_keyed[block]) _lruNodes[block] = _lru.AddLast(block);
        else _free.Push(block);
    }

    /// <summary>The key of a full block: SHA-256 (first 16 bytes) over the parent's key and the block's token ids.</summary>
    public static UInt128 Key(UInt128 parent, ReadOnlySpan<int> tokens)
    {
        Span<byte> buffer = stackalloc byte[16 + 4 * tokens.Length];
        BinaryPrimitives.WriteUInt128LittleEndian(buffer, parent);
        MemoryMarshal.AsBytes(tokens).CopyTo(buffer[16..]);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(buffer, digest);
        return BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }

    /// <summary>The key a chain starts from (no parent).</summary>
    public static UInt128 Root => UInt128.Zero;

    /// <summary>
    /// The cached block holding <paramref name="tokens"/> after the prefix keyed <paramref name="parent"/>, with one
    /// more reference (taken out of the LRU list), or -1. The block's stored tokens are compared too, so a hash
    /// collision cannot hand back another prompt's keys and values.
    /// </summary>
    public int Acquire(UInt128 key, ReadOnlySpan<int> tokens)
    {
        if (!_byKey.TryGetValue(key, out int block) || !tokens.SequenceEqual(_tokens[block])) return -1;
        if (_refs[block]++ == 0)
        {
            RemoveFromLru(block);
            Interlocked.Increment(ref _inUse);
        }
        return block;
    }

    /// <summary>Counts one prefix lookup of <paramref name="queried"/> prompt tokens of which <paramref name="hit"/> were found.</summary>
    public void CountLookup(int queried, int hit)
    {
        Interlocked.Add(ref _queries, queried);
        Interlocked.Add(ref _hits, hit);
    }

    /// <summary>Keys a full block a sequence holds (its content is final). A key already held by another block
    /// stays with that one (the same prefix prefilled twice concurrently); this block then stays unkeyed.</summary>
    public void Register(int block, UInt128 key, ReadOnlySpan<int> tokens)
    {
        if (_refs[block] <= 0) throw new InvalidOperationException($"block {block} is not held");
        if (_keyed[block] || _byKey.ContainsKey(key)) return;
        _byKey[key] = block;
        _keys[block] = key;
        _keyed[block] = true;
        _tokens[block] = tokens.ToArray();
    }

    public bool IsCached(UInt128 key) => _byKey.ContainsKey(key);

    private void RemoveFromLru(int block)
    {
        if (_lruNodes[block] is { } node)
        {
            _lru.Remove(node);
            _lruNodes[block] = null;
        }
    }

    private void Unkey(int block)
    {
        if (!_keyed[block]) return;
        _byKey.Remove(_keys[block]);
        _keyed[block] = false;
        _tokens[block] = null!;
    }
}
