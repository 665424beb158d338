using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models;

public sealed class KvCacheTests
{
    private static readonly long[] Tokens = [3, 300, 45, 77, 120, 9, 260, 301, 88, 15, 400, 2, 17, 19, 23, 41, 42, 43, 5, 6, 7, 8, 9, 10, 11, 12,
        13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26];

    [Fact]
    public void Constructor_LargeContext_AllocatesInitialBlocksOnly()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 8, maxTokens: 32_768);

        Assert.Equal(8 * 32_768 / KvCache.DefaultBlockTokens, cache.MaxBlocks);
        Assert.Equal(KvCache.DefaultInitialBlocks, cache.Blocks.Held);
        Assert.Equal((KvCache.DefaultInitialBlocks + 1) * 2L * config.NumHiddenLayers * config.KeyValueHeads * KvCache.DefaultBlockTokens * config.HeadDimension * 4, cache.Bytes);
        Assert.Equal([KvCache.DefaultInitialBlocks + 1, config.KeyValueHeads, KvCache.DefaultBlockTokens, config.HeadDimension], cache.Keys[0].shape);
        Assert.Equal(0, cache.Usage);
    }

    [Fact]
    public void Ensure_GrowsThePool_KeepsWrittenBlocksAndStopsAtTheBound()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 2, maxTokens: 64, blockTokens: 8, maxBlocks: 5, initialBlocks: 1);
        cache.Ensure(0, 8);
        int first = cache.Table(0)[0];
        cache.Keys[1][first, 1, 2].fill_(5f);

        cache.Ensure(0, 17);   // three blocks: the pool doubles twice

        Assert.Equal(3, cache.Table(0).Length);
        Assert.Equal(4, cache.Blocks.Held);
        Assert.Equal(5f, cache.Keys[1][first, 1, 2, 0].item<float>());
        Assert.Equal(3.0 / 5, cache.Usage, 12);
        Assert.True(cache.TryEnsure(1, 16));
        Assert.False(cache.TryEnsure(1, 17));
        Assert.Throws<KvCacheFullException>(() => cache.Ensure(1, 24));
        Assert.Throws<ArgumentException>(() => cache.Ensure(1, 65));

        cache.Free(0);
        Assert.Equal(2, cache.Blocks.InUse);
        Assert.True(cache.TryEnsure(1, 40));   // the freed blocks serve another slot
        Assert.Equal(5, cache.Blocks.InUse);
    }

    [Fact]
    public void SwapAndMove_ExchangeBlockTables_WithoutCopying()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 3, maxTokens: 64, blockTokens: 8);
        cache.Ensure(0, 20);
        cache.Ensure(2, 5);
        var a = cache.Table(0).ToArray();
        var c = cache.Table(2).ToArray();

        cache.SwapSlots(0, 2, 20, 5);
        Assert.Equal(c, cache.Table(0).ToArray());
        Assert.Equal(a, cache.Table(2).ToArray());

        cache.MoveSlot(2, 1, 20);
        Assert.Equal(a, cache.Table(1).ToArray());
        Assert.Empty(cache.Table(2).ToArray());
        Assert.Throws<InvalidOperationException>(() => cache.MoveSlot(0, 1, 5));
    }

    /// <summary>
    /// The paged cache against the contiguous layout: the same forwards with one block per sequence (block size 64
    /// = the context, each slot's tokens in one contiguous run, as the cache before paging) and with 8-token blocks
    /// that three sequences of different lengths take in turn (interleaved in the pool, crossing block boundaries,
    /// and a slot freed and reused by a new sequence whose blocks held another's keys). Logits are compared bitwise.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Decode_PagedBlocks_BitwiseSameLogitsAsOneContiguousBlockPerSequence(bool spanDecode)
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        m.Model.FuseForInference();
        using var noGrad = no_grad();
        using var paged = new KvCache(m.Config, slots: 3, maxTokens: 64, blockTokens: 8, initialBlocks: 1);
        using var contiguous = new KvCache(m.Config, slots: 3, maxTokens: 64, blockTokens: 64, initialBlocks: 3);
        var backend = spanDecode ? LlamaBackend.RowKernels : LlamaBackend.Torch;
        var logits = new List<Tensor>[] { [], [] };
        int c = 0;
        foreach (var cache in new[] { paged, contiguous })
        {
            var lengths = new long[] { 3, 9, 5 };
            // Prefill: one batched forward (rows padded to 9; the padding goes to scratch).
            var ids = new long[3 * 9];
            for (int b = 0; b < 3; b++)
                for (int t = 0; t < 9; t++) ids[b * 9 + t] = Tokens[(b * 7 + Math.Min(t, (int)lengths[b] - 1)) % Tokens.Length];
            logits[c].Add(m.Model.Forward(new LlamaInputs
            {
                InputIds = tensor(ids).view(3, 9), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0, 0, 0], Lengths = lengths },
                LogitPositions = tensor(lengths.Select(l => l - 1).ToArray()).view(3, 1),
            }).Logits!);
            // Decode 14 steps of all three rows: every row crosses at least one block boundary.
            for (int step = 0; step < 14; step++)
            {
                var next = Enumerable.Range(0, 3).Select(b => Tokens[(step * 3 + b) % Tokens.Length]).ToArray();
                logits[c].Add(m.Model.Forward(new LlamaInputs { Backend = backend, InputIds = tensor(next).view(3, 1), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = lengths.ToArray() } }).Logits!);
                for (int b = 0; b < 3; b++) lengths[b]++;
            }
            // Slot 1 ends; a new sequence takes it (on the paged cache, blocks another sequence wrote) and decodes
            // alone and beside the others.
            cache.Free(1);
            logits[c].Add(m.Model.Forward(new LlamaInputs { InputIds = tensor(Tokens[..12]).view(1, 12), Cache = new CacheWrite { Cache = cache, FirstSlot = 1, Starts = [0] } }).Logits!);
            lengths[1] = 12;
            for (int step = 0; step < 6; step++)
            {
                logits[c].Add(m.Model.Forward(new LlamaInputs { Backend = backend, InputIds = tensor(Tokens[12 + step]).view(1, 1), Cache = new CacheWrite { Cache = cache, FirstSlot = 1, Starts = [lengths[1]] } }).Logits!);
                lengths[1]++;
                var all = Enumerable.Range(0, 3).Select(b => Tokens[(step + 5 * b) % Tokens.Length]).ToArray();
                logits[c].Add(m.Model.Forward(new LlamaInputs { Backend = backend, InputIds = tensor(all).view(3, 1), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = lengths.ToArray() } }).Logits!);
                for (int b = 0; b < 3; b++) lengths[b]++;
            }
            c++;
        }

        Assert.True(paged.Table(0).Length >= 3 && paged.Table(1).Length >= 3);
        Assert.Single(contiguous.Table(0).ToArray());
        for (int i = 0; i < logits[0].Count; i++) Assert.True(logits[0][i].equal(logits[1][i]).all().item<bool>(), $"step {i} differs by {(logits[0][i] - logits[1][i]).abs().max().item<float>()}");
    }

    [Fact]
    public void AttendGroupPaged_ScatteredBlocks_BitwiseSameAsContiguousKeys()
    {
        const int d = 16, heads = 2, bs = 8, length = 29;
        var rng = new Random(3);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();
        var q = Random(heads * d);
        var k = Random(length * d);
        var v = Random(length * d);
        // Pool of 6 blocks x 2 kv heads, this head (1) in blocks 4, 1, 5, 2 (in token order).
        int[] table = [4, 1, 5, 2];
        long blockStride = 2L * bs * d, headOffset = bs * d;
        var kp = new float[6 * blockStride];
        var vp = new float[6 * blockStride];
        for (int j = 0; j < length; j++)
        {
            long at = table[j / bs] * blockStride + headOffset + j % bs * d;
            k.AsSpan(j * d, d).CopyTo(kp.AsSpan((int)at, d));
            v.AsSpan(j * d, d).CopyTo(vp.AsSpan((int)at, d));
        }
        var expected = new float[heads * d];
        var actual = new float[heads * d];

        RowKernels.AttendGroup(q, k, v, heads, d, length, 0.25f, new float[heads * length], expected);
        RowKernels.AttendGroupPaged(q, kp, vp, table, 3, blockStride, headOffset, heads, d, length, 0.25f, new float[heads * length], actual);

        Assert.Equal(expected, actual);
        Assert.Throws<ArgumentException>(() => RowKernels.AttendGroupPaged(q, kp, vp, table[..3], 3, blockStride, headOffset, heads, d, length, 0.25f, new float[heads * length], actual));
    }
}
