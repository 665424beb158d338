using Platform.Inference.Engine;
using static TorchSharp.torch;

namespace Platform.Inference.Generation;

/// <summary>
/// Chooses next tokens from a batch of logits on the tensor (only the chosen ids are copied out). Greedy rows
/// share one argmax; sampling rows apply repetition penalty, temperature, top-k, top-p and min-p
/// (the order of transformers' LogitsProcessorList), after OpenAI's presence / frequency penalties and logit_bias
/// (<see cref="LogitAdjustments"/>), and draw from their own per-request RNG, so a result
/// depends only on the request's seed, not on which other requests share the batch.
/// </summary>
public static class Sampler
{
    /// <param name="logits">[B, V] float logits (modified in place for repetition penalty).</param>
    public static int[] Choose(Tensor logits, IReadOnlyList<SamplingState> rows)
    {
        using var scope = NewDisposeScope();
        int b = (int)logits.shape[0];
        // Constrained rows first: a masked token stays at -infinity through every later step.
        for (int r = 0; r < b; r++)
        {
            if (rows[r].Constraint is { } constraint) constraint.Mask(logits[r]);
            rows[r].Pictures?.Mask(logits[r]);
        }
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
            LogitAdjustments.Apply(logits[r], s);
        }
        var result = new int[b];
        if (rows.Any(r => r.IsGreedy))
        {
            var argmax = logits.argmax(-1).to(CPU).data<long>().ToArray();
            for (int r = 0; r < b; r++) result[r] = (int)argmax[r];
        }
        // Rows that need sorted probabilities (top-k / top-p) and rows that do not are sampled as two groups,
        // so the computation applied to a row depends only on its own options, never on its batch neighbours.
        long vocab = logits.shape[1];
        foreach (var group in Enumerable.Range(0, b).Where(r => !rows[r].IsGreedy).GroupBy(r => NeedsSort(rows[r].Options, vocab)))
        {
            var sampled = group.ToArray();
            var picks = SampleRows(sampled.Length == b ? logits : logits.index_select(0, tensor(sampled.Select(x => (long)x).ToArray(), device: logits.device)),
                sampled.Select(r => rows[r]).ToArray(), group.Key);
            for (int i = 0; i < sampled.Length; i++) result[sampled[i]] = picks[i];
        }
        return result;
    }

    private static bool NeedsSort(SamplingOptions o, long vocab) => (o.TopK > 0 && o.TopK < vocab) || o.TopP < 1f;

    /// <summary>
    /// All sampling rows in one set of tensor ops (a fixed number of ops per step, whatever the batch size);
    /// every op is row-wise and a neutral setting (k = vocab, p = 1, min_p = 0) keeps every token, so a row's
    /// result does not depend on the other rows. Sorted only for the group that uses top-k or top-p.
    /// </summary>
    private static int[] SampleRows(Tensor logits, SamplingState[] rows, bool sort)
    {
        int n = rows.Length;
        long vocab = logits.shape[1];
        var device = logits.device;
        Tensor Column(float[] values) => tensor(values, device: device).view(n, 1);
        var scaled = logits / Column(rows.Select(r => r.Options.Temperature).ToArray());
        bool topK = rows.Any(r => r.Options.TopK > 0 && r.Options.TopK < vocab);
        bool topP = rows.Any(r => r.Options.TopP < 1f);
        bool minP = rows.Any(r => r.Options.MinP > 0f);
        Tensor? order = null;
        Tensor probs;
        if (sort)
        {
            (var sorted, order) = scaled.sort(-1, descending: true);
            probs = sorted.softmax(-1);
        }
        else probs = scaled.softmax(-1);

        Tensor? keep = null;
        Tensor And(Tensor? a, Tensor c) => a is null ? c : a.logical_and(c);
        if (topK)
        {
            var k = tensor(rows.Select(r => (long)(r.Options.TopK > 0 ? r.Options.TopK : vocab)).ToArray(), device: device).view(n, 1);
            keep = And(keep, arange(vocab, device: device).view(1, vocab) < k);
        }
        if (topP)
        {
            // Keep the smallest prefix whose mass reaches top_p (the most likely token always stays).
            keep = And(keep, (probs.cumsum(-1) - probs) < Column(rows.Select(r => r.Options.TopP < 1f ? r.Options.TopP : float.PositiveInfinity).ToArray()));
        }
        if (minP)
        {
            var max = probs.amax([-1L], keepdim: true);
            keep = And(keep, probs >= max * Column(rows.Select(r => r.Options.MinP).ToArray()));
        }
        var cdf = (keep is null ? probs : probs.where(keep, 0f)).cumsum(-1);
        var u = tensor(rows.Select(r => r.NextDouble()).ToArray(), device: device).to(ScalarType.Float32).view(n, 1);
        var target = u * cdf.narrow(1, vocab - 1, 1);
        var pick = searchsorted(cdf, target, right: true).clamp_max(vocab - 1);
        var ids = order is null ? pick : order.gather(1, pick);
        var host = ids.to(CPU).data<long>().ToArray();
        return host.Select(x => (int)x).ToArray();
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
    /// <summary>Constrained decoding of this sequence (structured output, tool calls), or null.</summary>
    public ITokenConstraint? Constraint { get; init; }
    /// <summary>An image-token model's picture structure (<see cref="PictureConstraint"/>), or null.</summary>
    public PictureConstraint? Pictures { get; init; }
    public bool IsGreedy => Options.Temperature <= 0f;
    public IReadOnlyCollection<int> History => _history;
    public long[] HistoryIds() => _history.Select(x => (long)x).ToArray();

    /// <summary>Times each token was generated so far (kept only when a presence or frequency penalty is set).</summary>
    public IReadOnlyDictionary<int, int> GeneratedCounts => _counts;
    private readonly Dictionary<int, int> _counts = new();

    public void Observe(int token)
    {
        Constraint?.Advance(token);
        Pictures?.Advance(token);
        if (Options.RepetitionPenalty != 1f) _history.Add(token);
        if (Options.PresencePenalty != 0f || Options.FrequencyPenalty != 0f)
            _counts[token] = _counts.GetValueOrDefault(token) + 1;
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
