using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Platform.Inference.Models;

/// <summary>
/// Paged key/value cache (vLLM's PagedAttention, Kwon et al. 2023). Per layer one pool of fixed-size blocks for keys
/// and one for values, [blocks, kv_heads, <see cref="BlockTokens"/>, head_dim]; each slot (a running sequence) has a
/// block table, and its token i lives in block table[i / BlockTokens] at offset i % BlockTokens. Blocks are taken
/// from <see cref="Blocks"/> as a sequence grows (<see cref="Ensure"/>, called by the forward for the tokens it
/// writes) and given back when it ends (<see cref="Free"/>); full blocks of plain prompts stay cached for reuse by a
/// later prompt with the same prefix (<see cref="AttachPrefix"/>, <see cref="RegisterPrefix"/>). The pool's
/// tensors start at <see cref="DefaultInitialBlocks"/> blocks and double, up to <see cref="MaxBlocks"/>, when no
/// block is free, so memory follows the tokens in use (not slots x the model's context). Moving or swapping slots
/// exchanges block tables, not data. Physical block 0 is scratch: the padding of a batched prefill writes there,
/// and reads past a row's blocks read there (those keys are masked out).
/// Attention reads through the tables: the span decode kernels block by block
/// (<see cref="Llama.RowKernels.AttendGroupPaged"/>), torch by gathering a batch's blocks (<see cref="ReadIndex"/>).
/// </summary>
public sealed class KvCache : IDisposable
{
    public const int DefaultBlockTokens = 16;
    public const int DefaultInitialBlocks = 32;

    private readonly Device? _device;
    private readonly SlotTable[] _slots;

    /// <param name="maxTokens">The most tokens one slot may hold (the context limit).</param>
    /// <param name="maxBlocks">The pool's bound in blocks; default enough for every slot at <paramref name="maxTokens"/>.</param>
    /// <param name="initialBlocks">Blocks allocated at construction.</param>
    public KvCache(LlamaConfig config, int slots, int maxTokens, Device? device = null, int blockTokens = DefaultBlockTokens, int? maxBlocks = null, int? initialBlocks = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        if (blockTokens < 8 || blockTokens % 8 != 0) throw new ArgumentOutOfRangeException(nameof(blockTokens), blockTokens, "block size must be a positive multiple of 8 tokens");
        Slots = slots;
        MaxTokens = maxTokens;
        BlockTokens = blockTokens;
        _device = device;
        Layers = config.NumHiddenLayers;
        KeyValueHeads = config.KeyValueHeads;
        HeadDim = config.HeadDimension;
        int max = maxBlocks ?? (int)Math.Min(int.MaxValue - 1, (long)slots * BlocksFor(maxTokens));
        Blocks = new KvBlocks(max, blockTokens, Math.Min(max, initialBlocks ?? DefaultInitialBlocks), Grow);
        _slots = new SlotTable[slots];
        for (int i = 0; i < slots; i++) _slots[i] = new SlotTable();
        Keys = new Tensor[Layers];
        Values = new Tensor[Layers];
        for (int i = 0; i < Layers; i++)
        {
            Keys[i] = zeros([Blocks.Held + 1, KeyValueHeads, BlockTokens, HeadDim], device: device).DetachFromDisposeScope();
            Values[i] = zeros([Blocks.Held + 1, KeyValueHeads, BlockTokens, HeadDim], device: device).DetachFromDisposeScope();
        }
    }

    public int Slots { get; }
    /// <summary>The most tokens one slot may hold (the context limit).</summary>
    public int MaxTokens { get; }
    public int BlockTokens { get; }
    public int Layers { get; }
    public int KeyValueHeads { get; }
    public int HeadDim { get; }
    /// <summary>The allocator: reference counts, the prefix cache and its counters.</summary>
    public KvBlocks Blocks { get; }
    /// <summary>The pool's bound in blocks.</summary>
    public int MaxBlocks => Blocks.MaxBlocks;
    /// <summary>Per layer [held blocks + 1, kv_heads, block tokens, head_dim]; block 0 is scratch. Take them after
    /// <see cref="Ensure"/>, never across it (the pool may have grown).</summary>
    public Tensor[] Keys { get; }
    public Tensor[] Values { get; }

    /// <summary>Bytes of one block over all layers, keys and values.</summary>
    public long BytesPerBlock => BlockBytes(Layers, KeyValueHeads, HeadDim, BlockTokens);
    public static long BlockBytes(int layers, int kvHeads, int headDim, int blockTokens) => 2L * layers * kvHeads * blockTokens * headDim * sizeof(float);
    /// <summary>Bytes the pool holds now (scratch block included).</summary>
    public long Bytes => (Blocks.Held + 1) * BytesPerBlock;
    /// <summary>Tokens the pool can hold at its bound.</summary>
    public long MaxPoolTokens => (long)MaxBlocks * BlockTokens;
    /// <summary>Fraction of the bound referenced by running sequences (vLLM's kv_cache_usage_perc; cached blocks no
    /// sequence holds count as free, as they are evictable).</summary>
    public double Usage => (double)Blocks.InUse / MaxBlocks;

    public int BlocksFor(long tokens) => (int)((tokens + BlockTokens - 1) / BlockTokens);

    /// <summary>Physical pool indices of the slot's blocks, in token order.</summary>
    public ReadOnlySpan<int> Table(int slot) => CollectionsMarshal.AsSpan(_slots[slot].Blocks);

    /// <summary>Blocks the slot still needs to hold <paramref name="tokens"/> tokens.</summary>
    public int MissingBlocks(int slot, long tokens) => Math.Max(0, BlocksFor(tokens) - _slots[slot].Blocks.Count);

    /// <summary>Gives the slot blocks for its first <paramref name="tokens"/> tokens; false when the pool is exhausted
    /// (the blocks taken before that stay with the slot).</summary>
    public bool TryEnsure(int slot, long tokens)
    {
        if (tokens > MaxTokens) throw new ArgumentException($"cache write out of range (tokens {tokens} of {MaxTokens})");
        var table = _slots[slot].Blocks;
        while (table.Count * (long)BlockTokens < tokens)
        {
            int id = Blocks.Allocate();
            if (id < 0) return false;
            table.Add(id + 1);
        }
        return true;
    }

    /// <exception cref="KvCacheFullException">All blocks are referenced.</exception>
    public void Ensure(int slot, long tokens)
    {
        if (!TryEnsure(slot, tokens))
            throw new KvCacheFullException($"KV cache full: slot {slot} needs {tokens} tokens; all {MaxBlocks} blocks of {BlockTokens} tokens are in use");
    }

    /// <summary>Releases the slot's blocks (full prompt blocks stay cached under their keys).</summary>
    public void Free(int slot)
    {
        var s = _slots[slot];
        foreach (var block in s.Blocks) Blocks.Release(block - 1);
        s.Blocks.Clear();
        s.Keys.Clear();
    }

    /// <summary>
    /// Starts an empty slot with the cached blocks of the longest prefix of <paramref name="tokens"/> found, in whole
    /// blocks and leaving at least one token to prefill (its logits start the completion); counts the lookup.
    /// Returns the tokens the slot now holds.
    /// </summary>
    public int AttachPrefix(int slot, ReadOnlySpan<int> tokens)
    {
        var s = _slots[slot];
        if (s.Blocks.Count > 0) throw new InvalidOperationException($"slot {slot} is not empty");
        int full = (tokens.Length - 1) / BlockTokens;
        var parent = KvBlocks.Root;
        for (int i = 0; i < full; i++)
        {
            var part = tokens.Slice(i * BlockTokens, BlockTokens);
            var key = KvBlocks.Key(parent, part);
            int id = Blocks.Acquire(key, part);
            if (id < 0) break;
            s.Blocks.Add(id + 1);
            s.Keys.Add(key);
            parent = key;
        }
        int hit = s.Blocks.Count * BlockTokens;
        Blocks.CountLookup(tokens.Length, hit);
        return hit;
    }

    /// <summary>Keys the slot's full blocks among its first <paramref name="filled"/> tokens (<paramref name="tokens"/>
    /// are the slot's plain token ids from index 0), so later prompts can reuse them.</summary>
    public void RegisterPrefix(int slot, ReadOnlySpan<int> tokens, int filled)
    {
        var s = _slots[slot];
        int full = Math.Min(Math.Min(filled, tokens.Length) / BlockTokens, s.Blocks.Count);
        for (int i = s.Keys.Count; i < full; i++)
        {
            var part = tokens.Slice(i * BlockTokens, BlockTokens);
            var key = KvBlocks.Key(i == 0 ? KvBlocks.Root : s.Keys[i - 1], part);
            Blocks.Register(s.Blocks[i] - 1, key, part);
            s.Keys.Add(key);
        }
    }

    /// <summary>Moves slot <paramref name="from"/>'s blocks to the empty slot <paramref name="to"/> (no copy).</summary>
    public void MoveSlot(int from, int to, int length)
    {
        if (from == to) return;
        if (_slots[to].Blocks.Count > 0) throw new InvalidOperationException($"slot {to} is not empty");
        (_slots[from], _slots[to]) = (_slots[to], _slots[from]);
    }

    /// <summary>Exchanges the blocks of two slots (no copy).</summary>
    public void SwapSlots(int a, int b, int lengthA, int lengthB) => (_slots[a], _slots[b]) = (_slots[b], _slots[a]);

    /// <summary>
    /// Flat indices into a layer's pool viewed as [-1, head_dim] for keys 0 .. <paramref name="keyLength"/>-1 of
    /// rows <paramref name="firstSlot"/> .. +rows, in [row, kv_head, token] order (index_select gives [rows, kv_heads,
    /// keyLength, head_dim]); positions past a row's blocks read the scratch block.
    /// </summary>
    public long[] ReadIndex(int firstSlot, int rows, long keyLength)
    {
        int bs = BlockTokens, heads = KeyValueHeads;
        var index = new long[rows * heads * keyLength];
        int i = 0;
        for (int b = 0; b < rows; b++)
        {
            var table = Table(firstSlot + b);
            for (int h = 0; h < heads; h++)
                for (long p = 0; p < keyLength; p++)
                {
                    long block = p / bs;
                    long physical = block < table.Length ? table[(int)block] : 0;
                    index[i++] = (physical * heads + h) * bs + p % bs;
                }
        }
        return index;
    }

    /// <summary>Flat indices (as <see cref="ReadIndex"/>) where the [rows, kv_heads, t, head_dim] new keys go: row b's
    /// token j at cache index starts[b]+j when j &lt; lengths[b] (its real tokens), else the scratch block.</summary>
    public long[] WriteIndex(int firstSlot, long[] starts, int t, long[]? lengths)
    {
        int bs = BlockTokens, heads = KeyValueHeads, rows = starts.Length;
        var index = new long[rows * heads * t];
        int i = 0;
        for (int b = 0; b < rows; b++)
        {
            var table = Table(firstSlot + b);
            long real = lengths?[b] ?? t;
            for (int h = 0; h < heads; h++)
                for (int j = 0; j < t; j++)
                {
                    long p = starts[b] + j;
                    long physical = j < real ? table[(int)(p / bs)] : 0;
                    index[i++] = (physical * heads + h) * bs + p % bs;
                }
        }
        return index;
    }

    /// <summary>Reallocates the pool tensors for <paramref name="blocks"/> blocks (plus scratch), copying the held ones.</summary>
    private int Grow(int blocks)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < Layers; i++)
        {
            Keys[i] = GrowOne(Keys[i], blocks + 1);
            Values[i] = GrowOne(Values[i], blocks + 1);
        }
        return blocks;
    }

    private Tensor GrowOne(Tensor old, int blocks)
    {
        var grown = zeros([blocks, KeyValueHeads, BlockTokens, HeadDim], device: _device).DetachFromDisposeScope();
        grown.narrow(0, 0, old.shape[0]).copy_(old);
        old.Dispose();
        return grown;
    }

    public void Dispose()
    {
        foreach (var t in Keys) t.Dispose();
        foreach (var t in Values) t.Dispose();
    }

    private sealed class SlotTable
    {
        /// <summary>Physical pool indices (allocator id + 1).</summary>
        public List<int> Blocks { get; } = new();
        /// <summary>Prefix keys of the first Keys.Count blocks (attached or registered).</summary>
        public List<UInt128> Keys { get; } = new();
    }
}

/// <summary>All KV cache blocks are referenced by running sequences.</summary>
public sealed class KvCacheFullException(string message) : Exception(message);

/// <summary>
/// Where one forward's tokens sit in the cache: batch row b is slot <see cref="FirstSlot"/>+b, and its new tokens are
/// written at cache indices start[b] .. start[b]+T-1. Built once per step and shared by all layers.
/// </summary>
public sealed class CacheWrite
{
    public required KvCache Cache { get; init; }
    public required int FirstSlot { get; init; }
    /// <summary>Per-row write start (cache index of the first new token).</summary>
    public required long[] Starts { get; init; }
    /// <summary>Per-row count of real new tokens (the rest of the T columns are padding, written to scratch and given
    /// no blocks); null = all T.</summary>
    public long[]? Lengths { get; init; }
    /// <summary>Keys attended: cache indices 0 .. KeyLength-1 (max over rows of start + T).</summary>
    public long KeyLength(long t) => Starts.Max() + t;
}
