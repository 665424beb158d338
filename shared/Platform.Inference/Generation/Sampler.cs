using Platform.Inference.Engine;
using static TorchSharp.torch;

namespace Platform.Inference.Generation;

/// <summary>
/// Chooses next tokens from a batch of logits on the tensor (only the chosen ids are copied out). Greedy rows
/// share one argmax; sampling rows apply repetition penalty, temperature, top-k, top-p and min-p
/// (the order of transformers' LogitsProcessorList) and draw from their own per-request RNG, so a result
/// depends only on the request's seed, not on which other requests share the batch.
/// </summary>
public static class Sampler
{
    /// <param name="logits">[B, V] float logits (modified in place for repetition penalty).</param>
    public static int[] Choose(Tensor logits, IReadOnlyList<SamplingState> rows)
    {
        using var scope = NewDisposeScope();
        int b = (int)logits.shape[0];
        for (int r = 0; r < b; r++)
        {
            var s = rows[r];
            if (s.Options.RepetitionPenalty != 1f && s.History.Count > 0)
            {
                // transformers RepetitionPenaltyLogitsProcessor: divide positive logits, multiply negative ones.
                var ids = tensor(s.HistoryIds(), device: logits.device);
                var row = logits[r];
                var g = row.gather(0, ids);
                var p = s.Options.RepetitionPenalty;
                row.scatter_(0, ids, where(g > 0, g / p, g * p));
            }
        }
        var result = new int[b];
        bool anyGreedy = rows.Any(r => r.IsGreedy);
        if (anyGreedy)
        {
            var argmax = logits.argmax(-1).to(CPU).data<long>().ToArray();
            for (int r = 0; r < b; r++) result[r] = (int)argmax[r];
        }
        for (int r = 0; r < b; r++)
            if (!rows[r].IsGreedy) result[r] = SampleRow(logits[r], rows[r]);
        return result;
    }

    private static int SampleRow(Tensor row, SamplingState s)
    {
        var o = s.Options;
        var scaled = row / o.Temperature;
        Tensor values, indices;
        if (o.TopK > 0 && o.TopK < scaled.shape[0]) (values, indices) = scaled.topk(o.TopK);
        else (values, indices) = scaled.sort(descending: true);
        var probs = values.softmax(0);
        var keep = ones_like(probs, ScalarType.Bool);
        if (o.TopP < 1f)
        {
            // Keep the smallest prefix whose mass reaches top_p (the first token always stays).
            var before = probs.cumsum(0) - probs;
            keep = keep.logical_and(before < o.TopP);
        }
        if (o.MinP > 0f) keep = keep.logical_and(probs >= probs[0] * o.MinP);
        var cdf = probs.where(keep, 0f).cumsum(0);
        double u = s.NextDouble() * cdf[-1].item<float>();
        long pick = searchsorted(cdf, tensor(new[] { (float)u }, device: row.device), right: true).item<long>();
        pick = Math.Min(pick, cdf.shape[0] - 1);
        return (int)indices[pick].item<long>();
    }
}

/// <summary>Per-request sampling state: options, RNG (SplitMix64, seeded) and the token history for repetition penalty.</summary>
public sealed class SamplingState
{
    private ulong _state;
    private readonly HashSet<int> _history = new();

    public SamplingState(SamplingOptions options, IEnumerable<int> promptTokens)
    {
        Options = options;
        _state = options.Seed ?? (ulong)Random.Shared.NextInt64();
        if (options.RepetitionPenalty != 1f) foreach (var t in promptTokens) _history.Add(t);
    }

    public SamplingOptions Options { get; }
    public bool IsGreedy => Options.Temperature <= 0f;
    public IReadOnlyCollection<int> History => _history;
    public long[] HistoryIds() => _history.Select(x => (long)x).ToArray();

    public void Observe(int token)
    {
        if (Options.RepetitionPenalty != 1f) _history.Add(token);
    }

    /// <summary>SplitMix64 (Steele et al. 2014): hand-written so a seed gives the same stream on every runtime.</summary>
    public double NextDouble()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
