namespace Platform.Bench.Engine;

internal static class LogitParity
{
    /// <summary>
    /// Max over positions of max_i |a_i - b_i| / max_i |b_i|: the error relative to each position's logit scale
    /// (element-wise relative error is meaningless for logits near zero).
    /// </summary>
    public static double MaxRelativeDifference(float[][] ours, float[][] reference)
    {
        if (ours.Length != reference.Length) throw new ArgumentException($"{ours.Length} positions vs {reference.Length}");
        double worst = 0;
        for (int t = 0; t < ours.Length; t++)
        {
            if (ours[t].Length != reference[t].Length) throw new ArgumentException($"position {t}: {ours[t].Length} logits vs {reference[t].Length}");
            double diff = 0, scale = 1e-12;
            for (int i = 0; i < ours[t].Length; i++)
            {
                diff = Math.Max(diff, Math.Abs(ours[t][i] - reference[t][i]));
                scale = Math.Max(scale, Math.Abs(reference[t][i]));
            }
            worst = Math.Max(worst, diff / scale);
        }
        return worst;
    }

    /// <summary>
    /// Logits of every position through the path the decode timing measures: one token per step through the KV
    /// cache (the span decode kernels, quantized ones included).
    /// </summary>
    public static float[][] DecodeLogits(Platform.Inference.Models.Llama.LlamaForCausalLM model, IReadOnlyList<int> tokens)
    {
        using var noGrad = TorchSharp.torch.no_grad();
        model.FuseForInference();
        using var cache = new Platform.Inference.Models.KvCache(model.Config, 1, tokens.Count + 1);
        // The backend the engine would pick for this model (the timed decode path).
        var backend = model.RowKernelsUnsupported(cache, 1) is null
            ? Platform.Inference.Models.Llama.LlamaBackend.RowKernels : Platform.Inference.Models.Llama.LlamaBackend.Torch;
        var result = new float[tokens.Count][];
        for (int i = 0; i < tokens.Count; i++)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var ids = TorchSharp.torch.tensor(new long[] { tokens[i] }).view(1, 1);
            using var o = model.Forward(new Platform.Inference.Models.Llama.LlamaInputs
            {
                Backend = backend,
                InputIds = ids, Cache = new Platform.Inference.Models.CacheWrite { Cache = cache, FirstSlot = 0, Starts = [i] },
            });
            result[i] = o.Logits!.data<float>().ToArray();
        }
        return result;
    }

    /// <summary>Logits of every position from a loaded model (plain causal forward, no cache).</summary>
    public static float[][] OurLogits(Platform.Inference.Models.Llama.LlamaForCausalLM model, IReadOnlyList<int> tokens)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var noGrad = TorchSharp.torch.no_grad();
        var ids = TorchSharp.torch.tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        var logits = model.forward(ids)[0].contiguous();
        var flat = logits.data<float>().ToArray();
        int v = (int)logits.shape[1];
        return Enumerable.Range(0, tokens.Count).Select(i => flat.AsSpan(i * v, v).ToArray()).ToArray();
    }
}
