using Platform.Inference.Models.Moe;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter;

/// <summary>A generated answer of an image-token model: every token after the prompt, and each finished picture's codes.</summary>
public sealed record SampledAnswer(int[] Tokens, IReadOnlyList<long[]> Pictures);

/// <summary>
/// The training side's sampling loop on <see cref="ImageTokenAdapter.Forward"/> (no KV cache: every step reruns the
/// whole sequence), with the constrained pictures the engine applies: outside a picture the code tokens and
/// end-of-image are masked; after begin-of-image exactly <see cref="ImageVocabulary.CodesPerImage"/> codes (every
/// other logit masked), then end-of-image forced. Begin-of-image is sampled like any token. A check of the trained
/// adapter, not the served path (the engine's).
/// </summary>
public sealed class ImageTokenSampler(ImageTokenAdapter adapter, ImageVocabulary vocabulary, IReadOnlySet<int> stopTokens)
{
    /// <summary>Generates up to <paramref name="maxNewTokens"/> tokens after <paramref name="prompt"/>; temperature 0 is greedy.</summary>
    public SampledAnswer Generate(int[] prompt, double temperature, Random random, int maxNewTokens = 128, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(temperature);
        var ids = prompt.ToList();
        var generated = new List<int>();
        var pictures = new List<long[]>();
        // A prompt that ends inside a picture (begin-of-image after its last end-of-image) continues that picture.
        int lastBegin = Array.LastIndexOf(prompt, vocabulary.BeginOfImage), lastEnd = Array.LastIndexOf(prompt, vocabulary.EndOfImage);
        List<long>? codes = lastBegin > lastEnd ? prompt.Skip(lastBegin + 1).Where(vocabulary.IsCode).Select(t => (long)vocabulary.CodeOf(t)).ToList() : null;
        for (int step = 0; step < maxNewTokens; step++)
        {
            ct.ThrowIfCancellationRequested();
            float[] logits;
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var output = adapter.Forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count]));
                logits = output[0, -1].contiguous().data<float>().ToArray();
            }
            Constrain(logits, codes?.Count);
            int token = Pick(logits, temperature, random);
            ids.Add(token);
            generated.Add(token);
            if (token == vocabulary.BeginOfImage) codes = [];
            else if (codes is not null && vocabulary.IsCode(token)) codes.Add(vocabulary.CodeOf(token));
            else if (token == vocabulary.EndOfImage) { pictures.Add(codes!.ToArray()); codes = null; }
            else if (stopTokens.Contains(token)) break;
        }
        return new SampledAnswer(generated.ToArray(), pictures);
    }

    /// <summary>Masks logits [Size] for the state: <paramref name="codesSoFar"/> null outside a picture, else the codes written.</summary>
    public void Constrain(Span<float> logits, int? codesSoFar)
    {
        if (logits.Length != vocabulary.Size) throw new ArgumentException($"{logits.Length} logits, the vocabulary has {vocabulary.Size}");
        if (codesSoFar is null)
        {
            logits[vocabulary.EndOfImage] = float.NegativeInfinity;
            for (int t = vocabulary.BaseVocabulary + 2; t < vocabulary.Size; t++) logits[t] = float.NegativeInfinity;
            return;
        }
        bool full = codesSoFar.Value >= vocabulary.CodesPerImage;
        for (int t = 0; t < vocabulary.Size; t++)
            if (full ? t != vocabulary.EndOfImage : !vocabulary.IsCode(t)) logits[t] = float.NegativeInfinity;
    }

    private static int Pick(float[] logits, double temperature, Random random)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        if (temperature == 0) return best;
        var p = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) { p[i] = float.IsNegativeInfinity(logits[i]) ? 0 : Math.Exp((logits[i] - logits[best]) / temperature); sum += p[i]; }
        double u = random.NextDouble() * sum;
        for (int i = 0; i < p.Length; i++) { u -= p[i]; if (u <= 0 && p[i] > 0) return i; }
        return best;
    }
}
