using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models;

public sealed class KvCacheTests
{
    private static readonly long[] Tokens = [3, 300, 45, 77, 120, 9, 260, 301, 88, 15, 400, 2, 17, 19, 23];

    [Fact]
    public void Constructor_LargeContext_AllocatesInitialTokensOnly()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 8, maxTokens: 32_768);

        Assert.Equal(KvCache.DefaultInitialTokens, cache.Capacity);
        Assert.Equal(2L * config.NumHiddenLayers * 8 * config.KeyValueHeads * KvCache.DefaultInitialTokens * config.HeadDimension * 4, cache.Bytes);
        Assert.Equal(KvCache.DefaultInitialTokens, cache.Keys[0].shape[2]);
    }

    [Fact]
    public void EnsureCapacity_Grows_KeepsCachedTokensAndStopsAtMaxTokens()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 2, maxTokens: 10, initialTokens: 3);
        cache.Keys[1][1, 1, 2].fill_(5f);

        cache.EnsureCapacity(4);

        Assert.Equal(6, cache.Capacity);
        Assert.Equal(5f, cache.Keys[1][1, 1, 2, 0].item<float>());
        cache.EnsureCapacity(9);
        Assert.Equal(10, cache.Capacity);
        Assert.Throws<ArgumentException>(() => cache.EnsureCapacity(11));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Decode_CacheGrowingFromTwoTokens_SameLogitsAsPreallocated(bool spanDecode)
    {
        // The prefill (torch path) and the decode steps (span kernels or torch) cross several reallocations.
        using var m = ModelLoader.Load(TestModels.Llama);
        m.Model.FuseForInference();
        using var noGrad = no_grad();
        using var growing = new KvCache(m.Config, slots: 2, maxTokens: 32, initialTokens: 2);
        using var full = new KvCache(m.Config, slots: 2, maxTokens: 32, initialTokens: 32);
        var logits = new List<Tensor>[] { [], [] };
        int c = 0;
        foreach (var cache in new[] { growing, full })
        {
            logits[c].Add(m.Model.Forward(new LlamaInputs { InputIds = tensor(Tokens[..5]).view(1, 5), Cache = new CacheWrite { Cache = cache, FirstSlot = 1, Starts = [0] } }).Logits!);
            for (int t = 5; t < Tokens.Length; t++)
                logits[c].Add(m.Model.Forward(new LlamaInputs { Backend = spanDecode ? LlamaBackend.RowKernels : LlamaBackend.Torch, InputIds = tensor(Tokens[t]).view(1, 1), Cache = new CacheWrite { Cache = cache, FirstSlot = 1, Starts = [t] } }).Logits!);
            c++;
        }

        Assert.True(growing.Capacity >= Tokens.Length && growing.Capacity < 32);
        for (int i = 0; i < logits[0].Count; i++) Assert.True(logits[0][i].equal(logits[1][i]).all().item<bool>(), $"step {i} differs by {(logits[0][i] - logits[1][i]).abs().max().item<float>()}");
    }

    [Fact]
    public void SwapSlots_DifferentLengths_ExchangesTheCachedTokensOfBoth()
    {
        var config = TinyModelFactory.TinyConfig();
        using var cache = new KvCache(config, slots: 3, maxTokens: 8);
        using var noGrad = no_grad();
        foreach (var buffer in cache.Keys.Concat(cache.Values)) buffer.copy_(randn(buffer.shape));
        var a = cache.Keys.Concat(cache.Values).Select(b => b[0].narrow(1, 0, 5).clone()).ToList();
        var b = cache.Keys.Concat(cache.Values).Select(b => b[2].narrow(1, 0, 3).clone()).ToList();
        var untouched = cache.Keys.Concat(cache.Values).Select(b => b[1].clone()).ToList();

        cache.SwapSlots(0, 2, lengthA: 5, lengthB: 3);

        var buffers = cache.Keys.Concat(cache.Values).ToList();
        for (int i = 0; i < buffers.Count; i++)
        {
            Assert.True(buffers[i][2].narrow(1, 0, 5).allclose(a[i], rtol: 0, atol: 0), $"buffer {i}: slot 2 does not hold slot 0's 5 tokens");
            Assert.True(buffers[i][0].narrow(1, 0, 3).allclose(b[i], rtol: 0, atol: 0), $"buffer {i}: slot 0 does not hold slot 2's 3 tokens");
            Assert.True(buffers[i][1].allclose(untouched[i], rtol: 0, atol: 0), $"buffer {i}: slot 1 changed");
        }
    }
}
