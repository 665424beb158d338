using Platform.Inference.Models;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models;

public class KvCacheTests
{
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
