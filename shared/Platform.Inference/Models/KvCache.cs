using static TorchSharp.torch;

namespace Platform.Inference.Models;

/// <summary>
/// Preallocated key/value cache: per layer one contiguous buffer [slots, kv_heads, max_tokens, head_dim] for keys
/// and one for values. Steps write in place (no concatenation per step). A batch always covers a contiguous
/// range of slots, so attention reads a strided view of the buffer with no gather copy; the scheduler keeps
/// running sequences packed at the low slots (<see cref="MoveSlot"/>).
/// </summary>
public sealed class KvCache : IDisposable
{
    public int Slots { get; }
    public int MaxTokens { get; }
    public int Layers { get; }
    public int KeyValueHeads { get; }
    public int HeadDim { get; }
    public Tensor[] Keys { get; }
    public Tensor[] Values { get; }

    public KvCache(LlamaConfig config, int slots, int maxTokens, Device? device = null)
    {
        Slots = slots;
        MaxTokens = maxTokens;
        Layers = config.NumHiddenLayers;
        KeyValueHeads = config.KeyValueHeads;
        HeadDim = config.HeadDimension;
        Keys = new Tensor[Layers];
        Values = new Tensor[Layers];
        for (int i = 0; i < Layers; i++)
        {
            Keys[i] = zeros([slots, KeyValueHeads, maxTokens, HeadDim], device: device).DetachFromDisposeScope();
            Values[i] = zeros([slots, KeyValueHeads, maxTokens, HeadDim], device: device).DetachFromDisposeScope();
        }
    }

    /// <summary>Bytes held by the cache.</summary>
    public long Bytes => 2L * Layers * Slots * KeyValueHeads * MaxTokens * HeadDim * sizeof(float);

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
