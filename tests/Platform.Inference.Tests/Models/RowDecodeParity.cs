using Platform.Inference.Models;
using Platform.Inference.Models.Llama;
using static TorchSharp.torch;

namespace Platform.Inference.Tests.Models;

/// <summary>
/// The span decode path (<see cref="LlamaBackend.RowKernels"/>) against the torch path on one fused model: three
/// sequences at different positions decode one token each for four steps; logits and the KV cache must agree.
/// </summary>
internal static class RowDecodeParity
{
    public static void AssertMatchesTorch(LlamaForCausalLM model, LlamaConfig config, long[] tokens)
    {
        model.FuseForInference();
        Assert.True(model.model.IsFused, "every layer fused: the span path runs");
        using var noGrad = no_grad();
        using var rowCache = new KvCache(config, slots: 3, maxTokens: 32);
        using var torchCache = new KvCache(config, slots: 3, maxTokens: 32);
        int[] lengths = [3, 7, 5];
        foreach (var cache in new[] { rowCache, torchCache })
            for (int s = 0; s < 3; s++)
                model.Forward(new LlamaInputs { InputIds = tensor(tokens[..lengths[s]]).unsqueeze(0), Cache = new CacheWrite { Cache = cache, FirstSlot = s, Starts = [0] } });
        for (int step = 0; step < 4; step++)
        {
            var ids = tensor(new long[] { tokens[lengths[0] + step], tokens[lengths[1] + step], tokens[lengths[2] + step] }).view(3, 1);
            long[] starts = lengths.Select(l => (long)(l + step)).ToArray();
            var row = model.Forward(new LlamaInputs { Backend = LlamaBackend.RowKernels, InputIds = ids, Cache = new CacheWrite { Cache = rowCache, FirstSlot = 0, Starts = starts } });
            var reference = model.Forward(new LlamaInputs { Backend = LlamaBackend.Torch, InputIds = ids, Cache = new CacheWrite { Cache = torchCache, FirstSlot = 0, Starts = starts } });
            float diff = (row.Logits! - reference.Logits!).abs().max().item<float>();
            Assert.True(diff < 1e-4f, $"step {step}: max |logit diff| {diff}");
        }
        for (int l = 0; l < config.NumHiddenLayers; l++)
            Assert.True((rowCache.Keys[l] - torchCache.Keys[l]).abs().max().item<float>() < 1e-4f);
    }
}
