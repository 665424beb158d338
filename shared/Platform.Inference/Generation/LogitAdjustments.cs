using static TorchSharp.torch;

namespace Platform.Inference.Generation;

/// <summary>
/// OpenAI's additive logit adjustments, applied to one row of logits in place before temperature and sampling
/// (greedy rows too). From OpenAI's "Parameter details" (frequency and presence penalties):
/// <c>mu[j] -= c[j] * frequency_penalty + (c[j] &gt; 0) * presence_penalty</c>, where c[j] counts how often token j
/// was generated so far in this completion (the prompt does not count, as in vLLM's output-token penalties);
/// then <c>logit_bias</c> adds its value to each listed token's logit.
/// </summary>
public static class LogitAdjustments
{
    /// <param name="row">[V] logits of one sequence, modified in place.</param>
    public static void Apply(Tensor row, SamplingState state)
    {
        var o = state.Options;
        var counts = state.GeneratedCounts;
        if ((o.PresencePenalty != 0f || o.FrequencyPenalty != 0f) && counts.Count > 0)
        {
            var ids = new long[counts.Count];
            var delta = new float[counts.Count];
            int i = 0;
            foreach (var (token, c) in counts)
            {
                ids[i] = token;
                delta[i] = -(c * o.FrequencyPenalty + o.PresencePenalty);
                i++;
            }
            row.index_add_(0, tensor(ids, device: row.device), tensor(delta, device: row.device).to(row.dtype), 1);
        }
        if (o.LogitBias is { Count: > 0 } bias)
        {
            var ids = bias.Keys.Select(k => (long)k).ToArray();
            var values = bias.Values.ToArray();
            row.index_add_(0, tensor(ids, device: row.device), tensor(values, device: row.device).to(row.dtype), 1);
        }
    }
}
