using Platform.Inference.Models.Llama;
using Platform.Inference.Models.Moe;
using static TorchSharp.torch;

namespace Platform.Multimodal.MoeAdapter;

/// <summary>How the new image-token rows of the embeddings start.</summary>
public enum ImageTokenInit
{
    /// <summary>N(0, s^2) with s the text embeddings' standard deviation (the adapter's default).</summary>
    Random,
    /// <summary>Code rows from <see cref="GromovWassersteinInitialisation"/>; begin/end rows as <see cref="Random"/>.</summary>
    GromovWasserstein,
}

/// <summary>The initial rows [new tokens, H] for <see cref="Platform.Inference.Models.Moe.ImageTokenAdapter"/>, in
/// <see cref="ImageVocabulary"/> order (begin, end, codes).</summary>
public static class ImageTokenInitialisation
{
    /// <summary>The text embeddings GW matches: the base vocabulary's rows of the tokenizer's real tokens
    /// (the padding rows up to vocab_size and <paramref name="excluded"/> ids left out).</summary>
    public static float[,] TextEmbeddings(LlamaForCausalLM model, int tokenizerSize, IReadOnlySet<int> excluded)
    {
        using var scope = NewDisposeScope();
        var rows = Enumerable.Range(0, Math.Min(tokenizerSize, model.Config.VocabSize)).Where(i => !excluded.Contains(i)).Select(i => (long)i).ToArray();
        using var _ = no_grad();
        var e = model.model.embed_tokens.weight!.index_select(0, tensor(rows)).contiguous();
        return ToArray(e);
    }

    public static float[,] Rows(ImageTokenInit init, ImageVocabulary vocabulary, float[,] codebook, float[,] textEmbeddings, int seed,
        Action<string>? log = null, CancellationToken ct = default)
    {
        int h = textEmbeddings.GetLength(1);
        if (codebook.GetLength(0) != vocabulary.CodebookSize) throw new ArgumentException($"the codebook has {codebook.GetLength(0)} rows, the vocabulary {vocabulary.CodebookSize} codes");
        double std = Std(textEmbeddings);
        var random = new Random(seed);
        var rows = new float[vocabulary.NewTokens, h];
        for (int i = 0; i < rows.GetLength(0); i++)
            for (int j = 0; j < h; j++) rows[i, j] = (float)(Gaussian(random) * std);
        if (init == ImageTokenInit.GromovWasserstein)
        {
            var gw = GromovWassersteinInitialisation.Compute(codebook, textEmbeddings, cancellationToken: ct);
            log?.Invoke($"GW initialisation: {gw.Coupling.Iterations} iterations (converged {gw.Coupling.Converged}), GW loss {gw.Coupling.Loss:E3}, " +
                        $"codebook-vs-new-embedding distance correlation {gw.DistanceCorrelation:F3}");
            for (int i = 0; i < vocabulary.CodebookSize; i++)
                for (int j = 0; j < h; j++) rows[i + 2, j] = gw.Embeddings[i, j];
        }
        return rows;
    }

    public static float[,] ToArray(Tensor t2)
    {
        using var c = t2.detach().cpu().to_type(float32).contiguous();
        int n = (int)c.shape[0], d = (int)c.shape[1];
        var flat = c.data<float>().ToArray();
        var result = new float[n, d];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(float));
        return result;
    }

    private static double Std(float[,] x)
    {
        double s = 0, ss = 0;
        long n = x.Length;
        foreach (var v in x) { s += v; ss += (double)v * v; }
        return Math.Sqrt(Math.Max(0, ss / n - s / n * (s / n)));
    }

    private static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
