using static TorchSharp.torch;

namespace Platform.Inference.Models;

/// <summary>
/// Key/value cache: per layer one contiguous buffer [slots, kv_heads, capacity, head_dim] for keys and one for
/// values. Steps write in place (no concatenation per step). A batch always covers a contiguous range of slots, so
/// attention reads a strided view of the buffer with no gather copy; the scheduler keeps running sequences packed at
/// the low slots (<see cref="MoveSlot"/>). The capacity starts at <see cref="DefaultInitialTokens"/> tokens per
/// slot and doubles (up to <see cref="MaxTokens"/>) when a write needs more (<see cref="EnsureCapacity"/>), so
/// memory follows the longest sequence in use instead of slots x the model's maximum context from the start
/// (3 GB for SmolLM2-135M at 8 slots x 8,192 tokens, 69 GB for Llama-3.2-1B at 128k).
/// </summary>
public sealed class KvCache : IDisposable
{
    /// <summary>Tokens per slot allocated at construction unless the caller asks otherwise.</summary>
    public const int DefaultInitialTokens = 256;

    public int Slots { get; }
    /// <summary>The most tokens one slot may hold (the context limit).</summary>
    public int MaxTokens { get; }
    /// <summary>Tokens per slot allocated now (the token stride of <see cref="Keys"/> and <see cref="Values"/>).</summary>
    public int Capacity { get; private set; }
    private readonly Device? _device;
    public int Layers { get; }
    public int KeyValueHeads { get; }
    public int HeadDim { get; }
    public Tensor[] Keys { get; }
    public Tensor[] Values { get; }

    public KvCache(LlamaConfig config, int slots, int maxTokens, Device? device = null, int? initialTokens = null)
    {
        Slots = slots;
        MaxTokens = maxTokens;
        Capacity = Math.Clamp(initialTokens ?? DefaultInitialTokens, 1, Math.Max(1, maxTokens));
        _device = device;
        Layers = config.NumHiddenLayers;
        KeyValueHeads = config.KeyValueHeads;
        HeadDim = config.HeadDimension;
        Keys = new Tensor[Layers];
        Values = new Tensor[Layers];
        for (int i = 0; i < Layers; i++)
        {
            Keys[i] = zeros([slots, KeyValueHeads, Capacity, HeadDim], device: device).DetachFromDisposeScope();
            Values[i] = zeros([slots, KeyValueHeads, Capacity, HeadDim], device: device).DetachFromDisposeScope();
        }
    }

    /// <summary>Bytes held by the cache now.</summary>
    public long Bytes => 2L * Layers * Slots * KeyValueHeads * Capacity * HeadDim * sizeof(float);

    /// <summary>
    /// Makes room for <paramref name="tokens"/> tokens per slot: the buffers are reallocated at twice the capacity
    /// (or what is asked, at most <see cref="MaxTokens"/>) and the cached tokens copied over. Callers take
    /// <see cref="Keys"/>/<see cref="Values"/> after this, never across it.
    /// </summary>
    public void EnsureCapacity(long tokens)
    {
        if (tokens <= Capacity) return;
        if (tokens > MaxTokens) throw new ArgumentException($"cache write out of range (tokens {tokens} of {MaxTokens})");
        int next = (int)Math.Min(MaxTokens, Math.Max(tokens, 2L * Capacity));
        using var noGrad = no_grad();
        for (int i = 0; i < Layers; i++)
        {
            Keys[i] = Grow(Keys[i], next);
            Values[i] = Grow(Values[i], next);
        }
        Capacity = next;
    }

    private Tensor Grow(Tensor old, int capacity)
    {
        var grown = zeros([Slots, KeyValueHeads, capacity, HeadDim], device: _device).DetachFromDisposeScope();
        grown.narrow(2, 0, Capacity).copy_(old);
        old.Dispose();
        return grown;
    }

    /// <summary>Copies the first <paramref name="length"/> cached tokens of slot <paramref name="from"/> into slot <paramref name="to"/>.</summary>
    public void MoveSlot(int from, int to, int length)
    {
        if (from == to || length <= 0) return;
        using var noGrad = no_grad();
        for (int i = 0; i < Layers; i++)
        {
            Keys[i][to].narrow(1, 0, length).copy_(Keys[i][from].narrow(1, 0, length));
            Values[i][to].narrow(1, 0, length).copy_(Values[i][from].narrow(1, 0, length));
        }
    }

    /// <summary>Exchanges the cached tokens of two slots (the first <paramref name="lengthA"/> of slot <paramref name="a"/>,
    /// the first <paramref name="lengthB"/> of slot <paramref name="b"/>).</summary>
    public void SwapSlots(int a, int b, int lengthA, int lengthB)
    {
        if (a == b) return;
        using var noGrad = no_grad();
        foreach (var buffers in new[] { Keys, Values })
            foreach (var buffer in buffers)
            {
                using var keptA = buffer[a].narrow(1, 0, lengthA).clone();
                if (lengthB > 0) buffer[a].narrow(1, 0, lengthB).copy_(buffer[b].narrow(1, 0, lengthB));
                if (lengthA > 0) buffer[b].narrow(1, 0, lengthA).copy_(keptA);
            }
    }

    public void Dispose()
    {
        foreach (var t in Keys) t.Dispose();
        foreach (var t in Values) t.Dispose();
    }
}

/// <summary>
/// Where one forward's tokens sit in the cache: batch row b is slot <see cref="FirstSlot"/>+b, and its T new
/// tokens are written at cache indices start[b] .. start[b]+T-1. Built once per step and shared by all layers.
/// </summary>
public sealed class CacheWrite
{
    public required KvCache Cache { get; init; }
    public required int FirstSlot { get; init; }
    /// <summary>Per-row write start (cache index of the first new token).</summary>
    public required long[] Starts { get; init; }
    /// <summary>Keys attended: cache indices 0 .. KeyLength-1 (max over rows of start + T).</summary>
    public long KeyLength(long t) => Starts.Max() + t;
}
