using Platform.Inference.Models.Moe;
using Platform.Multimodal.MoeAdapter;

namespace Platform.Multimodal.Tests.MoeAdapter;

public sealed class GromovWassersteinInitialisationTests
{
    private static float[,] RandomPoints(int n, int d, int seed)
    {
        var random = new Random(seed);
        var x = new float[n, d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) x[i, j] = (float)(random.NextDouble() * 2 - 1);
        return x;
    }

    [Fact]
    public void Compute_CodebookIsScaledCopyInOtherDimensions_EachCodeLandsOnItsTextPoint()
    {
        // Text embeddings: 12 points in 4 dims. Codebook: the same points scaled by 3, coordinates permuted and padded to
        // 6 dims: the same distance structure (after normalisation), no shared coordinates. GW must recover the matching.
        var text = RandomPoints(12, 4, 1);
        var codebook = new float[12, 6];
        for (int i = 0; i < 12; i++) { codebook[i, 5] = 3 * text[i, 0]; codebook[i, 1] = 3 * text[i, 1]; codebook[i, 3] = 3 * text[i, 2]; codebook[i, 0] = 3 * text[i, 3]; }
        var init = GromovWassersteinInitialisation.Compute(codebook, text, epsilon: 0.002, maxIterations: 200);
        double worst = 0;
        for (int i = 0; i < 12; i++) for (int j = 0; j < 4; j++) worst = Math.Max(worst, Math.Abs(init.Embeddings[i, j] - text[i, j]));
        Assert.True(worst < 0.05, $"a code's embedding is {worst} away from its text point");
        Assert.True(init.DistanceCorrelation > 0.99, $"distance correlation {init.DistanceCorrelation}");
    }

    [Fact]
    public void Compute_MoreTextPoints_KeepsStructureBetterThanRandomRows()
    {
        var text = RandomPoints(40, 8, 2);
        var codebook = RandomPoints(10, 3, 3);
        var init = GromovWassersteinInitialisation.Compute(codebook, text);
        Assert.Equal((10, 8), (init.Embeddings.GetLength(0), init.Embeddings.GetLength(1)));
        // Baseline: 10 random text rows (what a random initialisation in the text space would give).
        var random = new float[10, 8];
        var pick = new Random(4);
        for (int i = 0; i < 10; i++) { int r = pick.Next(40); for (int j = 0; j < 8; j++) random[i, j] = text[r, j]; }
        var c1 = EntropicGromovWasserstein.NormalisedDistances(codebook);
        double baseline = GromovWassersteinInitialisation.DistanceCorrelation(c1, EntropicGromovWasserstein.NormalisedDistances(random));
        Assert.True(init.DistanceCorrelation > baseline + 0.2, $"GW {init.DistanceCorrelation}, random rows {baseline}");
    }

    [Fact]
    public void DistanceCorrelation_KnownMatrices()
    {
        var a = new double[,] { { 0, 1, 2 }, { 1, 0, 3 }, { 2, 3, 0 } };
        var b = new double[,] { { 0, 2, 4 }, { 2, 0, 6 }, { 4, 6, 0 } };
        var c = new double[,] { { 0, 3, 2 }, { 3, 0, 1 }, { 2, 1, 0 } };
        Assert.Equal(1.0, GromovWassersteinInitialisation.DistanceCorrelation(a, b), 9);
        Assert.Equal(-1.0, GromovWassersteinInitialisation.DistanceCorrelation(a, c), 9);
    }
}

public sealed class ImageVocabularyTests
{
    [Fact]
    public void Picture_Codes_BeginCodesEnd()
    {
        var v = new ImageVocabulary(BaseVocabulary: 864, CodebookSize: 256, CodesPerImage: 4);
        Assert.Equal(new[] { 864, 866, 866, 866 + 255, 866 + 7, 865 }, v.Picture([0, 0, 255, 7]));
        Assert.Equal(864 + 258, v.Size);
        Assert.True(v.IsCode(866) && !v.IsCode(865) && !v.IsCode(864 + 258));
        Assert.Equal(255, v.CodeOf(866 + 255));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.CodeToken(256));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.CodeOf(12));
        Assert.Throws<ArgumentException>(() => v.Picture([1, 2]));
    }
}
