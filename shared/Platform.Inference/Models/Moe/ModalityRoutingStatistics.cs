namespace Platform.Inference.Models.Moe;

/// <summary>Token modality for routing statistics.</summary>
public enum Modality { Text = 0, Image = 1 }

/// <summary>One layer's routing by modality: per expert, and summary divergences.</summary>
/// <param name="TextShare">Per expert: the share of the layer's routed text tokens (slots) it received (sums to 1).</param>
/// <param name="ImageShare">The same for image tokens.</param>
/// <param name="ImageFraction">Per expert: ImageShare / (TextShare + ImageShare), the expert's image share with both
/// modalities weighted equally (so a modality's token count does not decide it); NaN for an expert neither used.</param>
/// <param name="TextEntropyBits">Entropy of the text routing distribution (bits; log2 E when uniform).</param>
/// <param name="JensenShannonBits">Jensen-Shannon divergence between the two distributions (bits, 0..1).</param>
/// <param name="ImageSpecific">Experts whose ImageFraction is at least the threshold; TextSpecific: at most 1 - threshold.</param>
public sealed record LayerRoutingStatistics(
    int Layer, long TextTokens, long ImageTokens, double[] TextShare, double[] ImageShare, double[] ImageFraction,
    double TextEntropyBits, double ImageEntropyBits, double JensenShannonBits, int[] ImageSpecific, int[] TextSpecific);

/// <summary>
/// Counts, per layer, expert and modality, the (token, top-k slot) pairs the routers send, and summarises them:
/// each modality's distribution over experts, its entropy, the Jensen-Shannon divergence between the two, and the
/// experts that became modality-specific (the routing analysis of Dutt et al. 2025, "Exploiting Mixture-of-Experts
/// Redundancy Unlocks Multimodal Generative Abilities"). Thread-safe.
/// </summary>
public sealed class ModalityRoutingStatistics
{
    private readonly long[,,] _counts;   // [layer, modality, expert]
    private readonly long[,] _tokens;    // [layer, modality]
    private readonly Lock _lock = new();

    public ModalityRoutingStatistics(int layers, int experts)
    {
        if (layers <= 0 || experts <= 0) throw new ArgumentOutOfRangeException(nameof(experts), "layers and experts must be positive");
        Layers = layers;
        Experts = experts;
        _counts = new long[layers, 2, experts];
        _tokens = new long[layers, 2];
    }

    public int Layers { get; }
    public int Experts { get; }

    /// <summary>Records one forward of a layer: <paramref name="chosen"/> [tokens, k] expert ids, one modality per token.</summary>
    public void Record(int layer, ReadOnlySpan<int> chosen, int topK, ReadOnlySpan<Modality> modalities)
    {
        if (chosen.Length != modalities.Length * topK) throw new ArgumentException($"{chosen.Length} expert ids for {modalities.Length} tokens x top-{topK}");
        lock (_lock)
        {
            for (int t = 0; t < modalities.Length; t++)
            {
                int m = (int)modalities[t];
                _tokens[layer, m]++;
                for (int j = 0; j < topK; j++) _counts[layer, m, chosen[t * topK + j]]++;
            }
        }
    }

    /// <summary>Tokens of <paramref name="modality"/> routed by <paramref name="layer"/> (each counted once, not per slot).</summary>
    public long Tokens(int layer, Modality modality) { lock (_lock) return _tokens[layer, (int)modality]; }

    /// <summary>(token, slot) pairs of a modality that layer sent to an expert.</summary>
    public long Count(int layer, Modality modality, int expert) { lock (_lock) return _counts[layer, (int)modality, expert]; }

    public LayerRoutingStatistics Summarise(int layer, double specificThreshold = 0.8)
    {
        double[] text, image;
        long textTokens, imageTokens;
        lock (_lock)
        {
            text = Distribution(layer, Modality.Text);
            image = Distribution(layer, Modality.Image);
            textTokens = _tokens[layer, 0];
            imageTokens = _tokens[layer, 1];
        }
        var fraction = new double[Experts];
        for (int e = 0; e < Experts; e++) fraction[e] = text[e] + image[e] > 0 ? image[e] / (text[e] + image[e]) : double.NaN;
        bool both = textTokens > 0 && imageTokens > 0;
        return new LayerRoutingStatistics(layer, textTokens, imageTokens, text, image, fraction, Entropy(text), Entropy(image),
            both ? JensenShannon(text, image) : double.NaN,
            both ? Enumerable.Range(0, Experts).Where(e => fraction[e] >= specificThreshold).ToArray() : [],
            both ? Enumerable.Range(0, Experts).Where(e => fraction[e] <= 1 - specificThreshold).ToArray() : []);
    }

    public IReadOnlyList<LayerRoutingStatistics> SummariseAll(double specificThreshold = 0.8) =>
        Enumerable.Range(0, Layers).Select(l => Summarise(l, specificThreshold)).ToArray();

    private double[] Distribution(int layer, Modality modality)
    {
        var d = new double[Experts];
        double total = 0;
        for (int e = 0; e < Experts; e++) total += _counts[layer, (int)modality, e];
        if (total == 0) return d;
        for (int e = 0; e < Experts; e++) d[e] = _counts[layer, (int)modality, e] / total;
        return d;
    }

    /// <summary>Shannon entropy in bits (0 log 0 = 0).</summary>
    public static double Entropy(IReadOnlyList<double> p) => -p.Where(x => x > 0).Sum(x => x * Math.Log2(x));

    /// <summary>JS(p, q) = H((p+q)/2) - (H(p) + H(q))/2, in bits.</summary>
    public static double JensenShannon(IReadOnlyList<double> p, IReadOnlyList<double> q) =>
        Entropy(p.Zip(q, (a, b) => (a + b) / 2).ToArray()) - (Entropy(p) + Entropy(q)) / 2;
}
