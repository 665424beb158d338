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
