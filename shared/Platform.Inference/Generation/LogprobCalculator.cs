using Platform.Inference.Engine;
using Platform.Inference.Tokenization;
using static TorchSharp.torch;

namespace Platform.Inference.Generation;

/// <summary>
/// Log-probabilities as OpenAI's logprobs / top_logprobs report them: log-softmax of the logits the token was sampled
/// from, after penalties and logit_bias and divided by the temperature (a greedy request, temperature 0, reports the
/// distribution at temperature 1). top-k / top-p truncation is not applied, so the alternatives are the model's.
/// </summary>
public static class LogprobCalculator
{
    /// <summary>The largest number of alternatives a request may ask for (OpenAI's top_logprobs limit).</summary>
    public const int MaxTop = 20;

    /// <param name="logits">[V] (or [1, V]) the row the token was chosen from, after <see cref="Sampler.Choose"/> adjusted it.</param>
    public static TokenLogprob Compute(Tensor logits, float temperature, int chosen, int top, TextTokenizer tokenizer) =>
        Compute(logits, temperature, chosen, top, id => tokenizer.TokenBytes(id).ToArray());

    /// <param name="tokenBytes">The bytes reported for a token id (tokens past the tokenizer's, e.g. image tokens, name themselves).</param>
    public static TokenLogprob Compute(Tensor logits, float temperature, int chosen, int top, Func<int, byte[]> tokenBytes)
    {
        using var scope = NewDisposeScope();
        var row = logits.view(-1).to(ScalarType.Float32);
        if (temperature > 0f && temperature != 1f) row = row / temperature;
        var logp = row.log_softmax(0);
        float chosenLogprob = logp[chosen].to(CPU).item<float>();
        var alternatives = new List<TopLogprob>();
        if (top > 0)
        {
            var (values, ids) = logp.topk(Math.Min(top, (int)logp.shape[0]));
            var v = values.to(CPU).data<float>().ToArray();
            var i = ids.to(CPU).data<long>().ToArray();
            // A token masked to -infinity (constrained decoding, an image-token model's pictures) cannot come next: not an alternative.
            for (int k = 0; k < v.Length; k++)
                if (!float.IsNegativeInfinity(v[k])) alternatives.Add(new TopLogprob((int)i[k], tokenBytes((int)i[k]), v[k]));
        }
        return new TokenLogprob(chosen, tokenBytes(chosen), chosenLogprob, alternatives);
    }
}
