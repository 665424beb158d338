namespace Platform.Multimodal.MoeAdapter;

/// <summary>The new code embeddings from the coupling, and how well they keep the codebook's distance structure.</summary>
/// <param name="Embeddings">[K, H]: one row per code, in the text embedding space.</param>
/// <param name="DistanceCorrelation">Pearson correlation between the codebook's pairwise distances and the new embeddings'.</param>
public sealed record GromovWassersteinInit(float[,] Embeddings, GromovWassersteinResult Coupling, double DistanceCorrelation);

/// <summary>
/// Initialises the image-code embeddings so that their pairwise-distance structure matches the text embeddings'
/// (Dutt et al. 2025): entropic Gromov-Wasserstein between the codebook's normalised distance matrix and the text
/// embeddings' (uniform weights), then the barycentric projection of the coupling onto the text embeddings: code i
/// starts at sum_j T_ij y_j / sum_j T_ij. Codes that GW couples to the same text region start close together,
/// codes far apart in the codebook start at distant text embeddings.
/// </summary>
public static class GromovWassersteinInitialisation
{
    public static GromovWassersteinInit Compute(float[,] codebook, float[,] textEmbeddings, double epsilon = 0.005, int maxIterations = 60,
        CancellationToken cancellationToken = default)
    {
        int k = codebook.GetLength(0), v = textEmbeddings.GetLength(0);
        if (k < 2 || v < 2) throw new ArgumentException("both spaces need at least two points");
        var c1 = EntropicGromovWasserstein.NormalisedDistances(codebook);
        var c2 = EntropicGromovWasserstein.NormalisedDistances(textEmbeddings);
        var p = Enumerable.Repeat(1.0 / k, k).ToArray();
        var q = Enumerable.Repeat(1.0 / v, v).ToArray();
        var result = EntropicGromovWasserstein.Solve(c1, c2, p, q, epsilon, maxIterations, tolerance: 1e-7, cancellationToken: cancellationToken);
        var embeddings = EntropicGromovWasserstein.BarycentricProjection(result.Coupling, textEmbeddings);
        return new GromovWassersteinInit(embeddings, result, DistanceCorrelation(c1, EntropicGromovWasserstein.NormalisedDistances(embeddings)));
    }

    /// <summary>Pearson correlation of the upper triangles of two distance matrices of the same size.</summary>
    public static double DistanceCorrelation(double[,] a, double[,] b)
    {
        int n = a.GetLength(0);
        if (b.GetLength(0) != n) throw new ArgumentException("the distance matrices must have the same size");
        double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
        long count = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double x = a[i, j], y = b[i, j];
                sa += x; sb += y; saa += x * x; sbb += y * y; sab += x * y; count++;
            }
        double cov = sab / count - sa / count * (sb / count);
        double va = saa / count - Math.Pow(sa / count, 2), vb = sbb / count - Math.Pow(sb / count, 2);
        return va <= 0 || vb <= 0 ? 0 : cov / Math.Sqrt(va * vb);
    }
}
