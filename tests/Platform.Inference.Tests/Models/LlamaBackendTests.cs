using Platform.Inference.Engine;
using Platform.Inference.Loading;
using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using Xunit;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models;

/// <summary>The forward runs on the backend its caller names: the kernels refuse what they cannot run.</summary>
public class LlamaBackendTests
{
    [Fact]
    public void Forward_RowKernelsOnPrefill_RefusesInsteadOfSwitching()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        m.Model.FuseForInference();
        using var noGrad = no_grad();
        using var cache = new KvCache(m.Config, slots: 1, maxTokens: 16);
        var prefill = new LlamaInputs { Backend = LlamaBackend.RowKernels, InputIds = tensor(new long[] { 5, 6, 7 }).view(1, 3), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0] } };
        var e = Assert.Throws<ArgumentException>(() => m.Model.Forward(prefill));
        Assert.Contains("one token per cache row", e.Message);
        using var torchOut = m.Model.Forward(prefill with { Backend = LlamaBackend.Torch });
        Assert.Equal([1L, 3, m.Config.VocabSize], torchOut.Logits!.shape);
    }

    [Fact]
    public void Forward_RowKernelsUnfused_Refuses()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        using var noGrad = no_grad();
        using var cache = new KvCache(m.Config, slots: 1, maxTokens: 16);
        Assert.Contains("not fused", m.Model.RowKernelsUnsupported(cache, 1));
        var e = Assert.Throws<ArgumentException>(() => m.Model.Forward(new LlamaInputs
        {
            Backend = LlamaBackend.RowKernels, InputIds = tensor(new long[] { 5 }).view(1, 1), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0] },
        }));
        Assert.Contains("not fused", e.Message);
    }

    [Fact]
    public void Forward_RowKernelsWithPositionIds_MatchesTorchWithSamePositions()
    {
        // After a prompt with sets, rotary positions lag the cache indices: a batch of two rows, one shifted back by 3
        // and one at its cache index, written to two caches by the two backends.
        using var m = ModelLoader.Load(TestModels.Llama);
        m.Model.FuseForInference();
        using var noGrad = no_grad();
        long[] prompt = [5, 300, 45, 77, 120, 9];
        using var rowCache = new KvCache(m.Config, slots: 2, maxTokens: 16);
        using var torchCache = new KvCache(m.Config, slots: 2, maxTokens: 16);
        foreach (var cache in new[] { rowCache, torchCache })
            for (int slot = 0; slot < 2; slot++)
                m.Model.Forward(new LlamaInputs { InputIds = tensor(prompt).view(1, prompt.Length), Cache = new CacheWrite { Cache = cache, FirstSlot = slot, Starts = [0] } });
        LlamaInputs Step(KvCache cache, LlamaBackend backend) => new()
        {
            Backend = backend, InputIds = tensor(new long[] { 33, 33 }).view(2, 1), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [6, 6] },
            PositionIds = tensor(new long[] { 3, 6 }).view(2, 1),
        };
        using var row = m.Model.Forward(Step(rowCache, LlamaBackend.RowKernels));
        using var reference = m.Model.Forward(Step(torchCache, LlamaBackend.Torch));
        Assert.True((row.Logits! - reference.Logits!).abs().max().item<float>() < 1e-4f);
        for (int layer = 0; layer < m.Config.NumHiddenLayers; layer++)
            Assert.True((rowCache.Keys[layer] - torchCache.Keys[layer]).abs().max().item<float>() < 1e-5f);
        // The positions took effect: the same token at the same cache index gives other logits at position 3 than at 6.
        Assert.True((row.Logits![0] - row.Logits![1]).abs().max().item<float>() > 1e-3f);
    }

    [Fact]
    public void Forward_RowKernelsPositionIdsWrongShape_Refuses()
    {
        using var m = ModelLoader.Load(TestModels.Llama);
        m.Model.FuseForInference();
        using var noGrad = no_grad();
        using var cache = new KvCache(m.Config, slots: 2, maxTokens: 16);
        var e = Assert.Throws<ArgumentException>(() => m.Model.Forward(new LlamaInputs
        {
            Backend = LlamaBackend.RowKernels, InputIds = tensor(new long[] { 5, 6 }).view(2, 1), Cache = new CacheWrite { Cache = cache, FirstSlot = 0, Starts = [0, 0] },
            PositionIds = tensor(new long[] { 0, 0, 0 }).view(1, 3),
        }));
        Assert.Contains("are not [2, 1] CPU int64", e.Message);
    }

    [Theory]
    [InlineData(4, LlamaBackend.RowKernels)]
    [InlineData(RowKernels.MaxKernelRows + 1, LlamaBackend.Torch)]
    public async Task Engine_DecodeBackend_ChosenAtStartFromSlots(int slots, LlamaBackend expected)
    {
        await using var engine = TextEngine.Load("tiny", TestModels.Llama, new EngineOptions { MaxConcurrentSequences = slots, MaxContextTokens = 32 });
        Assert.Equal(expected, engine.DecodeBackend);
        var request = new GenerationRequest { PromptTokens = [5, 300, 45], MaxNewTokens = 4, Sampling = SamplingOptions.Greedy, IgnoreEos = true };
        int tokens = 0;
        await foreach (var u in engine.GenerateAsync(request, CancellationToken.None)) tokens += u.TokenIds.Count;
        Assert.Equal(4, tokens);
    }
}
